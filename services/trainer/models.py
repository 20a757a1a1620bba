"""Plain domain records of the trainer. Enum member names equal the proto enum suffixes
(QuestState.QUEUED <-> QUEST_STATE_QUEUED) so the servicer maps them by name."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.kit.errors import InvalidArgument
from services.kit.mantra import Mantra


class Priority(StrEnum):
    HIGH = "HIGH"
    NORMAL = "NORMAL"
    LOW = "LOW"

    @property
    def rank(self) -> int:
        return {"HIGH": 1, "NORMAL": 2, "LOW": 3}[self.value]

    @classmethod
    def parse(cls, text: str) -> Priority:
        try:
            return cls(text.upper())
        except ValueError:
            raise InvalidArgument(f"unknown priority {text!r}; use high, normal or low", field="priority") from None


class QuestState(StrEnum):
    VALIDATING = "VALIDATING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    REJECTED = "REJECTED"


TERMINAL_QUEST_STATES = frozenset({QuestState.COMPLETED, QuestState.FAILED, QuestState.SKIPPED, QuestState.REJECTED})
WAITING_QUEST_STATES = frozenset({QuestState.VALIDATING, QuestState.QUEUED})


class CampaignState(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


class RunState(StrEnum):
    IDLE = "IDLE"
    STARTING = "STARTING"
    TRAINING = "TRAINING"
    CHECKPOINTING = "CHECKPOINTING"
    PAUSING = "PAUSING"
    PAUSED = "PAUSED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"


class Desired(StrEnum):
    """The run state asked for (persisted): what the controller does between quests and after a restart."""

    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"


class EventKind(StrEnum):
    STEP = "STEP"
    QUEST_STARTED = "QUEST_STARTED"
    QUEST_COMPLETED = "QUEST_COMPLETED"
    QUEST_FAILED = "QUEST_FAILED"
    QUEST_SKIPPED = "QUEST_SKIPPED"
    QUEST_QUEUED = "QUEST_QUEUED"
    QUEST_REJECTED = "QUEST_REJECTED"
    CHECKPOINT_SAVED = "CHECKPOINT_SAVED"
    CHECKPOINT_REGISTERED = "CHECKPOINT_REGISTERED"
    RUN_STATE_CHANGED = "RUN_STATE_CHANGED"
    LEVEL_UP = "LEVEL_UP"
    WORKER_RESTARTED = "WORKER_RESTARTED"


@dataclass(frozen=True)
class RunStatus:
    """What the run controller is doing now (GetRunStatus)."""

    state: RunState
    campaign: str
    quest: str
    last_step: dict[str, Any] | None
    last_checkpoint: str
    queued_quests: int
    worker_pid: int
    worker_restarts: int
    message: str
    update_time: float


@dataclass(frozen=True)
class Milestone:
    title: str
    description: str = ""
    reach_time: float = 0.0
    global_step: int = 0


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    display_name: str
    hero: str
    state: CampaignState
    starting_checkpoint: str
    config_overrides: dict[str, Any]
    skills: tuple[str, ...]
    milestones: tuple[Milestone, ...]
    peak_metrics: dict[str, float]
    global_step: int
    trained_tokens: int
    latest_checkpoint_dir: str
    latest_checkpoint_asset: str
    create_time: float
    update_time: float
    # Filled from campaign_setup.CampaignSetupStore: the mantra, the fields locked at the first quest, the fork.
    mantra: Mantra = field(default_factory=Mantra)
    mantra_update_time: float = 0.0
    locked_fields: tuple[tuple[str, str], ...] = ()
    lock_time: float = 0.0
    forked_from: str = ""

    @property
    def name(self) -> str:
        return f"campaigns/{self.campaign_id}"


@dataclass(frozen=True)
class Quest:
    quest_id: str
    display_name: str
    campaign: str  # campaigns/{id}
    priority: Priority
    state: QuestState
    position: int
    dataset_asset: str = ""
    schema_id: str = ""
    sidecar_json: str = ""
    rows: int = 0
    bytes: int = 0
    sha256: str = ""
    # The validation report as a proto-shaped dict (realm.common.v1.ValidationReport field names).
    validation: dict[str, Any] = field(default_factory=dict)
    state_reason: str = ""
    source: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    steps_done: int = 0
    steps_total: int = 0
    attempts: int = 0
    worker_restarts: int = 0
    worker_pid: int = 0
    file_path: str = ""
    run_dir: str = ""
    global_step_offset: int = 0
    trained_tokens_offset: int = 0
    create_time: float = 0.0
    start_time: float = 0.0
    end_time: float = 0.0

    @property
    def name(self) -> str:
        return f"quests/{self.quest_id}"


def resource_id(name: str, collection: str, *, field_name: str = "name") -> str:
    """'quests/abc' -> 'abc' (a bare id is accepted too)."""
    prefix = f"{collection}/"
    resource = name.removeprefix(prefix)
    if not resource or "/" in resource:
        raise InvalidArgument(f"expected {collection}/{{id}}, got {name!r}", field=field_name)
    return resource


_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def mint_id(display_name: str, *, max_len: int = 40) -> str:
    slug = _SLUG_STRIP.sub("-", display_name.lower()).strip("-")[:max_len].strip("-")
    suffix = uuid.uuid4().hex[:6]
    return f"{slug}-{suffix}" if slug else f"q{uuid.uuid4().hex[:10]}"

