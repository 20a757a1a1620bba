"""The ports trials reach peers through (implemented over the SDK in `services/curriculum/remote.py`), and how
their failures are classified: a peer that is down or busy means "retry later", anything else is final."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from services.curriculum.evaluation.model import LevelUp, LoadedModel, RegisteredCheckpoint, SkillResult

# Status codes (by name: no grpc import here) that mean "the peer is down or busy, try again later".
RETRYABLE_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "CANCELLED"})


class PeerUnavailable(Exception):
    """A port could not reach its peer (or the peer could not do the work now): the trial is retried."""


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (PeerUnavailable, ConnectionError, TimeoutError)):
        return True
    code = getattr(exc, "code", None)
    if callable(code):
        try:
            return getattr(code(), "name", "") in RETRYABLE_CODES
        except Exception:  # not a gRPC error after all
            return False
    return False


def describe_error(exc: Exception) -> str:
    details = getattr(exc, "details", None)
    if callable(details):  # a gRPC error from a peer service: its status and message
        code = exc.code() if callable(getattr(exc, "code", None)) else None
        return f"{getattr(code, 'name', 'RPC')}: {details()}"
    return str(exc) or type(exc).__name__


class CheckpointStream(Protocol):
    def __iter__(self) -> Iterator[RegisteredCheckpoint]: ...

    def cancel(self) -> None: ...


class InferencePort(Protocol):
    def load(self, checkpoint: str) -> LoadedModel:
        """Load the checkpoint, blocking until it is ready."""
        ...

    def chat(self, model: str, messages: Sequence[Mapping[str, str]], max_new_tokens: int) -> str:
        """Greedy reply to a conversation."""
        ...


class VaultPort(Protocol):
    def lineage(self, asset: str) -> tuple[float | None, int]:
        """(latest training loss if recorded, global step) of a checkpoint asset."""
        ...

    def store_report(self, campaign: str, checkpoint: str, skill: str, level: int, report: Mapping[str, Any]) -> str:
        """Upload the report as an eval-report asset; return its name."""
        ...

    def attach_eval(self, checkpoint: str, result: SkillResult, campaign: str) -> None: ...

    def move_best(self, campaign: str, skill: str, checkpoint: str, score: float) -> bool:
        """Point campaigns/{campaign}/aliases/best/{skill} at the checkpoint if its score is higher."""
        ...

    def follow_checkpoints(self, after_sequence: int) -> CheckpointStream:
        """New checkpoints as the vault registers them, from after `after_sequence`, until cancelled."""
        ...

    def mark_superseded(self, asset: str, superseded_by: str) -> None:
        """Label the checkpoint trial=superseded (its trial was skipped for a newer checkpoint)."""
        ...

    def append_level_up(self, change: LevelUp) -> None:
        """Append a LEVEL_UP ledger event, idempotent per (campaign, skill, to_level)."""
        ...


class TrainerPort(Protocol):
    def submit_correction(self, campaign: str, skill: str, level: int, jsonl: bytes, display_name: str) -> str:
        """Submit a high-priority chat_sft_v1 correction quest (source "sparring"); return the quest name."""
        ...
