"""The trainer's ports implemented with the Realm SDK: the vault (checkpoints, datasets) and the curriculum
(validation, planning, generation). gRPC errors become domain errors here, so the domain never sees grpc."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import structlog
from google.protobuf import json_format

from realm.common.v1 import common_pb2
from realm.curriculum.v1 import curriculum_pb2 as cpb
from realm.vault.v1 import vault_pb2 as vpb
from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound, RealmError, Unavailable
from services.trainer.ports import GeneratedBatch, LedgerEvent, PlannedBatch

log = structlog.get_logger("realm.trainer.remote")
CHUNK_BYTES = 1024 * 1024
TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
             grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED, grpc.StatusCode.INTERNAL,
             grpc.StatusCode.UNKNOWN)


def domain_error(exc: grpc.RpcError, service: str) -> RealmError:
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    message = f"{service}: {code.name if code else 'RPC'}: {details}"
    if code in TRANSIENT:
        return Unavailable(message)
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(message)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(message)
    return FailedPrecondition(message)


def report_to_dict(report: common_pb2.ValidationReport) -> dict[str, Any]:
    data = json_format.MessageToDict(report, preserving_proto_field_name=True)
    for key in ("rows", "bytes", "error_count", "warning_count"):
        data[key] = int(data.get(key, 0) or 0)
    data["accepted"] = bool(data.get("accepted", False))
    for finding in data.get("findings", []):
        finding["line"] = int(finding.get("line", 0) or 0)
    for count in data.get("counts", []):
        count["count"] = int(count.get("count", 0) or 0)
    return data


class CurriculumPort:
    """DatasetValidator + BatchPlanner over the curriculum service."""

    def __init__(self, realm: Any, *, level: str = "VALIDATION_LEVEL_STANDARD") -> None:
        self.realm = realm
        self.level = common_pb2.ValidationLevel.Value(level)

    def validate(self, path: Path, *, schema_id: str, sidecar_json: str, file_name: str) -> dict[str, Any]:
        def requests() -> Iterator[cpb.ValidateDatasetRequest]:
            yield cpb.ValidateDatasetRequest(header=cpb.DatasetHeader(
                schema_id=schema_id, sidecar_json=sidecar_json, level=self.level, file_name=file_name))
            with path.open("rb") as handle:
                while block := handle.read(CHUNK_BYTES):
                    yield cpb.ValidateDatasetRequest(chunk=block)

        try:
            response = self.realm.curriculum.ValidateDataset(requests(), timeout=600)
        except grpc.RpcError as exc:
            raise domain_error(exc, "curriculum") from None
        except KeyError as exc:
            raise Unavailable(f"curriculum: {exc}") from None
        return report_to_dict(response.report)

    def configure_skills(self, campaign: str, skills: list[str]) -> None:
        wanted = {s.removeprefix("skills/") for s in skills}
        try:
            known = self.realm.curriculum.ListSkills(cpb.ListSkillsRequest(page_size=500)).skills
            # Keep weights someone already chose for this campaign (e.g. `realm play`); new skills weigh 1.
            current = self.realm.curriculum.GetCampaignProgress(
                cpb.GetCampaignProgressRequest(campaign=campaign)).progress.skills
            weights = {p.skill.removeprefix("skills/"): p.weight for p in current if p.weight > 0}
            settings = [cpb.SkillSettings(skill=k.name, enabled=k.name.removeprefix("skills/") in wanted,
                                          weight=weights.get(k.name.removeprefix("skills/"), 1.0))
                        for k in known]
            unknown = wanted - {k.name.removeprefix("skills/") for k in known}
            if unknown:
                raise InvalidArgument(f"the curriculum has no skill {sorted(unknown)}", field="skills")
            self.realm.curriculum.ConfigureCampaign(cpb.ConfigureCampaignRequest(campaign=campaign, skills=settings))
        except grpc.RpcError as exc:
            raise domain_error(exc, "curriculum") from None

    def training_level(self, campaign: str, skill: str) -> int:
        try:
            progress = self.realm.curriculum.GetCampaignProgress(
                cpb.GetCampaignProgressRequest(campaign=campaign)).progress
        except grpc.RpcError as exc:
            raise domain_error(exc, "curriculum") from None
        except KeyError as exc:
            raise Unavailable(f"curriculum: {exc}") from None
        wanted = skill.removeprefix("skills/")
        return next((s.training_level for s in progress.skills if s.skill.removeprefix("skills/") == wanted), 0)

    def plan_next_batch(self, campaign: str, *, preset: str, count: int) -> list[PlannedBatch]:
        try:
            response = self.realm.curriculum.PlanNextBatch(
                cpb.PlanNextBatchRequest(campaign=campaign, preset=preset, count=count))
        except grpc.RpcError as exc:
            raise domain_error(exc, "curriculum") from None
        return [PlannedBatch(skill=b.skill, level=b.level, count=b.count, seed=b.seed, reason=b.reason,
                             review_share=b.review_share)
                for b in response.batches]

    def generate_batch(self, batch: PlannedBatch) -> GeneratedBatch:
        try:
            response = self.realm.curriculum.GenerateBatch(cpb.GenerateBatchRequest(
                skill=batch.skill, level=batch.level, count=batch.count, seed=batch.seed,
                review_share=batch.review_share), timeout=300)
        except grpc.RpcError as exc:
            raise domain_error(exc, "curriculum") from None
        jsonl = response.jsonl
        if not jsonl:
            lines = []
            for row in response.rows:
                record: dict[str, Any] = {"messages": [{"role": m.role, "content": m.content} for m in row.messages]}
                if row.metadata_json:
                    record["metadata"] = json.loads(row.metadata_json)
                lines.append(json.dumps(record, ensure_ascii=False))
            jsonl = ("\n".join(lines) + "\n").encode() if lines else b""
        return GeneratedBatch(jsonl=jsonl, sidecar_json=response.sidecar_json)


class VaultPort:
    """CheckpointRegistry + DatasetSource over the vault service (its SDK's push/pull)."""

    def __init__(self, realm: Any) -> None:
        self.realm = realm

    def register(self, checkpoint_dir: Path, *, lineage: dict[str, Any], labels: dict[str, str]) -> str:
        key = labels["realm.checkpoint_key"]
        try:
            # Idempotent across trainer restarts: a checkpoint pushed before a crash is found by its key.
            existing = self.realm.vault.ListAssets(vpb.ListAssetsRequest(
                kind=vpb.ASSET_KIND_CHECKPOINT, labels={"realm.checkpoint_key": key}, page_size=1))
            if existing.assets:
                return existing.assets[0].name
            asset = self.realm.vault.push(
                checkpoint_dir, "checkpoint", lineage=lineage, labels=labels,
                display_name=f"{lineage.get('campaign', '').removeprefix('campaigns/')} step {lineage.get('global_step')}",
                # The same request id continues an interrupted upload instead of starting over.
                request_id=hashlib.sha256(f"{key}|{checkpoint_dir}".encode()).hexdigest()[:32],
            )
        except grpc.RpcError as exc:
            raise domain_error(exc, "vault") from None
        except KeyError as exc:
            raise Unavailable(f"vault: {exc}") from None
        return asset.name

    def move_alias(self, alias: str, asset: str) -> None:
        """The vault moves `latest` itself when a newer checkpoint of the campaign commits; this only checks."""
        try:
            resolved = self.realm.vault.ResolveAlias(vpb.ResolveAliasRequest(name=alias))
        except grpc.RpcError as exc:
            raise domain_error(exc, "vault") from None
        if resolved.alias.asset != asset:
            log.info("latest points elsewhere (a newer checkpoint won)", alias=alias, expected=asset,
                     actual=resolved.alias.asset)

    def fetch(self, asset: str, dest_dir: Path) -> Path:
        try:
            return Path(self.realm.vault.pull(asset, dest_dir, overwrite=True))
        except grpc.RpcError as exc:
            raise domain_error(exc, "vault") from None
        except KeyError as exc:
            raise Unavailable(f"vault: {exc}") from None


class _LedgerStream:
    """A WatchLedger call as a LedgerSubscription: proto events become LedgerEvents, gRPC errors domain errors."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self._cancelled = False

    def __iter__(self) -> Iterator[LedgerEvent]:
        try:
            for response in self._call:
                event = response.event
                yield LedgerEvent(
                    sequence=event.sequence,
                    kind=vpb.LedgerEventKind.Name(event.kind).removeprefix("LEDGER_EVENT_KIND_"),
                    campaign=event.campaign, message=event.message, attributes=dict(event.attributes),
                )
        except grpc.RpcError as exc:
            if self._cancelled:
                return
            raise domain_error(exc, "vault") from None

    def cancel(self) -> None:
        self._cancelled = True
        self._call.cancel()


class LedgerPort:
    """LedgerFeed over the vault's WatchLedger."""

    def __init__(self, realm: Any) -> None:
        self.realm = realm

    def watch(self, *, after_sequence: int, kinds: tuple[str, ...]) -> _LedgerStream:
        request = vpb.WatchLedgerRequest(
            after_sequence=after_sequence, kinds=[vpb.LedgerEventKind.Value(f"LEDGER_EVENT_KIND_{k}") for k in kinds])
        try:
            # No deadline: the stream lives as long as the trainer; a vault restart ends it and we reconnect.
            return _LedgerStream(self.realm.vault.WatchLedger(request, timeout=None))
        except grpc.RpcError as exc:
            raise domain_error(exc, "vault") from None
        except KeyError as exc:
            raise Unavailable(f"vault: {exc}") from None
