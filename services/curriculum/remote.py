"""The evaluation runner's ports over the Realm SDK: inference (load + greedy chat), the vault, the trainer."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from realm.inference.v1 import inference_pb2
from realm.trainer.v1 import trainer_pb2
from realm.vault.v1 import vault_pb2
from services.curriculum.evaluation.model import LevelUp, LoadedModel, RegisteredCheckpoint, SkillResult
from services.curriculum.evaluation.ports import RETRYABLE_CODES, PeerUnavailable

CHUNK_BYTES = 1024 * 1024


def _peer_down_behind(exc: Exception) -> bool:
    """Inference reports a vault outage during a load as FAILED_PRECONDITION "vault: UNAVAILABLE: ..."."""
    details = exc.details() if callable(getattr(exc, "details", None)) else ""
    return any(f"vault: {code}" in (details or "") for code in RETRYABLE_CODES)


CHAT_TIMEOUT_SECONDS = 600.0


class SdkInference:
    def __init__(self, realm) -> None:
        self._realm = realm

    def load(self, checkpoint: str) -> LoadedModel:
        try:
            model = self._realm.inference.load(checkpoint, wait=True)
        except Exception as exc:
            if _peer_down_behind(exc):
                raise PeerUnavailable(f"inference could not reach the vault: {exc.details()}") from exc
            raise
        if model.state != inference_pb2.MODEL_STATE_READY:
            if any(code in model.error for code in RETRYABLE_CODES):
                raise PeerUnavailable(f"model for {checkpoint} did not load: {model.error}")
            raise RuntimeError(f"model for {checkpoint} did not become ready: {model.error or model.state}")
        return LoadedModel(model.name, model.asset or checkpoint)

    def chat(self, model: str, messages: Sequence[Mapping[str, str]], max_new_tokens: int) -> str:
        # A trial shares the CPU/GPU with training: one answer may queue behind a whole batch, so allow minutes.
        reply = self._realm.inference.chat(model, messages, max_new_tokens=max_new_tokens, temperature=0.0,
                                           timeout=CHAT_TIMEOUT_SECONDS)
        return reply.message.content


class SdkVault:
    def __init__(self, realm) -> None:
        self._realm = realm

    def lineage(self, asset: str) -> tuple[float | None, int]:
        found = self._realm.vault.GetAsset(vault_pb2.GetAssetRequest(name=asset)).asset
        metrics = dict(found.lineage.metrics)
        return metrics.get("loss"), found.lineage.global_step

    def store_report(self, campaign: str, checkpoint: str, skill: str, level: int, report: Mapping[str, Any]) -> str:
        with tempfile.TemporaryDirectory(prefix="eval-report-") as tmp:
            path = Path(tmp) / f"eval-{skill}-L{level}.json"
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(report, handle, ensure_ascii=False, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            asset = self._realm.vault.push(
                path, "eval_report", display_name=f"eval {skill} L{level} {checkpoint.removeprefix('assets/')}",
                lineage={"campaign": f"campaigns/{campaign}", "parent_checkpoint": checkpoint},
                labels={"skill": skill, "level": str(level), "checkpoint": checkpoint})
        return asset.name

    def attach_eval(self, checkpoint: str, result: SkillResult, campaign: str) -> None:
        self._realm.vault.AttachEval(vault_pb2.AttachEvalRequest(asset=checkpoint, eval=vault_pb2.Eval(
            asset=checkpoint, skill=result.skill, level=result.level, accuracy=result.accuracy,
            correct=result.correct, total=result.total, report_asset=result.report_asset, regime=result.regime,
            eval_set_hash=result.eval_set_hash, metrics={"mean_partial_score": result.mean_partial_score})))

    def move_best(self, campaign: str, skill: str, checkpoint: str, score: float) -> bool:
        alias = vault_pb2.Alias(name=f"campaigns/{campaign}/aliases/best/{skill}", asset=checkpoint,
                                metric="curriculum_level_score", metric_value=score,
                                direction=vault_pb2.METRIC_DIRECTION_MAXIMIZE)
        return self._realm.vault.SetAlias(vault_pb2.SetAliasRequest(alias=alias, only_if_better=True)).moved

    def mark_superseded(self, asset: str, superseded_by: str) -> None:
        self._realm.vault.UpdateAssetLabels(vault_pb2.UpdateAssetLabelsRequest(
            name=asset, set_labels={"trial": "superseded", "superseded_by": superseded_by}))

    def append_level_up(self, change: LevelUp) -> None:
        campaign = f"campaigns/{change.campaign}"
        event = vault_pb2.LedgerEvent(
            kind=vault_pb2.LEDGER_EVENT_KIND_LEVEL_UP, campaign=campaign,
            asset=change.checkpoint if change.checkpoint.startswith("assets/") else "",
            message=change.describe(),
            attributes={"skill": change.skill, "from_level": str(change.from_level),
                        "to_level": str(change.to_level), "checkpoint": change.checkpoint,
                        "mean_accuracy": f"{change.mean_accuracy:.4f}", "source": "curriculum"})
        key = f"level-up/{campaign}/{change.skill}/{change.to_level}"
        try:
            self._realm.vault.AppendLedgerEvent(vault_pb2.AppendLedgerEventRequest(event=event, idempotency_key=key))
        except Exception as exc:
            code = exc.code() if callable(getattr(exc, "code", None)) else None
            if getattr(code, "name", "") != "NOT_FOUND" or not event.asset:
                raise
            # The checkpoint is not (or no longer) in the vault, e.g. a RecordEval naming another store's asset.
            event.asset = ""
            self._realm.vault.AppendLedgerEvent(vault_pb2.AppendLedgerEventRequest(event=event, idempotency_key=key))

    def follow_checkpoints(self, after_sequence: int) -> LedgerStream:
        call = self._realm.vault.WatchLedger(vault_pb2.WatchLedgerRequest(
            after_sequence=after_sequence, kinds=[vault_pb2.LEDGER_EVENT_KIND_REGISTERED]))
        return LedgerStream(call)


class LedgerStream:
    """Checkpoint registrations from a WatchLedger call; `cancel()` ends the call from another thread."""

    def __init__(self, call) -> None:
        self._call = call

    def __iter__(self):
        for response in self._call:
            event = response.event
            if event.asset_kind == vault_pb2.ASSET_KIND_CHECKPOINT:
                yield RegisteredCheckpoint(event.sequence, event.asset, event.campaign.removeprefix("campaigns/"),
                                           event.time.ToNanoseconds() / 1e9)

    def cancel(self) -> None:
        self._call.cancel()


class SdkTrainer:
    def __init__(self, realm) -> None:
        self._realm = realm

    def submit_correction(self, campaign: str, skill: str, level: int, jsonl: bytes, display_name: str) -> str:
        header = trainer_pb2.QuestHeader(
            campaign=campaign, display_name=display_name, priority=trainer_pb2.PRIORITY_HIGH,
            schema_id="chat_sft_v1", labels={"skill": skill, "level": str(level)}, source="sparring")

        def messages():
            yield trainer_pb2.SubmitQuestRequest(header=header)
            for start in range(0, len(jsonl), CHUNK_BYTES):
                yield trainer_pb2.SubmitQuestRequest(chunk=jsonl[start:start + CHUNK_BYTES])

        return self._realm.trainer.SubmitQuest(messages()).quest.name
