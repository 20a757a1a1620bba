"""What the trainer needs from other services, as plain interfaces.

The domain depends on these; services/trainer/remote.py implements them with the Realm SDK (vault,
curriculum). Results are plain dicts / dataclasses so the domain never sees a proto or a gRPC error:
adapters raise `services.kit.errors.Unavailable` when the other service cannot be reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class DatasetValidator(Protocol):
    def validate(self, path: Path, *, schema_id: str, sidecar_json: str, file_name: str) -> dict[str, Any]:
        """The curriculum's ValidateDataset report as a proto-shaped dict (ValidationReport field names)."""
        ...


@dataclass(frozen=True)
class CheckpointRegistration:
    asset: str  # assets/{id}
    alias_moved: bool


class CheckpointRegistry(Protocol):
    def register(self, checkpoint_dir: Path, *, lineage: dict[str, Any], labels: dict[str, str]) -> str:
        """Push the directory as a CHECKPOINT asset with its lineage (idempotent on labels["realm.checkpoint_key"]);
        return the asset name."""
        ...

    def move_alias(self, alias: str, asset: str) -> None:
        """Point campaigns/{c}/aliases/{alias} at the asset."""
        ...


class DatasetSource(Protocol):
    def fetch(self, asset: str, dest_dir: Path) -> Path:
        """Materialise a dataset asset's files under dest_dir; return dest_dir."""
        ...


@dataclass(frozen=True)
class PlannedBatch:
    skill: str
    level: int
    count: int
    seed: int
    reason: str = ""
    # Share of rows the curriculum draws from the levels below `level` (review against forgetting).
    review_share: float = 0.0


@dataclass(frozen=True)
class GeneratedBatch:
    jsonl: bytes
    sidecar_json: str


class BatchPlanner(Protocol):
    def configure_skills(self, campaign: str, skills: list[str]) -> None:
        """Enable exactly these skills for the campaign in the curriculum (others disabled)."""
        ...

    def plan_next_batch(self, campaign: str, *, preset: str, count: int) -> list[PlannedBatch]: ...

    def generate_batch(self, batch: PlannedBatch) -> GeneratedBatch: ...


@dataclass(frozen=True)
class LedgerEvent:
    """A vault ledger event as the trainer sees it (only what the level-up follower needs)."""

    sequence: int
    kind: str  # the LedgerEventKind name without its prefix: "LEVEL_UP", "REGISTERED", ...
    campaign: str = ""
    message: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


class LedgerSubscription(Protocol):
    """A live ledger stream: iterating blocks for the next event; it ends (or raises Unavailable) when the vault
    goes away. cancel() ends it from another thread."""

    def __iter__(self) -> Iterator[LedgerEvent]: ...

    def cancel(self) -> None: ...


class LedgerFeed(Protocol):
    def watch(self, *, after_sequence: int, kinds: tuple[str, ...]) -> LedgerSubscription:
        """Ledger events with sequence > after_sequence (of these kinds), then new ones as they are appended."""
        ...


class SkillLevels(Protocol):
    def training_level(self, campaign: str, skill: str) -> int:
        """The level the curriculum now trains this skill at in this campaign (0 when it does not know it)."""
        ...
