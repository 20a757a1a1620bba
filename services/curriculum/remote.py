"""The evaluation runner's ports over the Realm SDK: inference (load + greedy chat) and the vault."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from realm.inference.v1 import inference_pb2
from realm.vault.v1 import vault_pb2
from services.curriculum.evaluation import LoadedModel, RegisteredCheckpoint, SkillResult


class SdkInference:
    def __init__(self, realm) -> None:
        self._realm = realm

    def load(self, checkpoint: str) -> LoadedModel:
        model = self._realm.inference.load(checkpoint, wait=True)
        if model.state != inference_pb2.MODEL_STATE_READY:
            raise RuntimeError(f"model for {checkpoint} did not become ready: {model.error or model.state}")
        return LoadedModel(model.name, model.asset or checkpoint)

    def chat(self, model: str, messages: Sequence[Mapping[str, str]], max_new_tokens: int) -> str:
        reply = self._realm.inference.chat(model, messages, max_new_tokens=max_new_tokens, temperature=0.0)
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
