"""The evaluation resource and the values trials pass around (plain data, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class EvalState(IntEnum):
    PENDING = 1
    RUNNING = 2
    SUCCEEDED = 3
    FAILED = 4
    SUPERSEDED = 5


TRIGGER_CHECKPOINT, TRIGGER_REQUEST = "checkpoint", "request"

# An eval set a trial runs: (skill, level, is the skill's training level).
PlannedSet = tuple[str, int, bool]


@dataclass(frozen=True)
class LoadedModel:
    name: str  # what to chat with
    asset: str  # the vault asset the checkpoint (or alias) resolved to


@dataclass(frozen=True)
class LevelUp:
    campaign: str
    skill: str
    from_level: int
    to_level: int
    checkpoint: str
    mean_accuracy: float

    def describe(self) -> str:
        """The event message. Says "skill": the hero has a level of its own (from XP), never to be confused."""
        return f"skill {self.skill} reached level {self.to_level} (mastered; was level {self.from_level})"


@dataclass(frozen=True)
class RegisteredCheckpoint:
    sequence: int
    asset: str
    campaign: str
    time: float


@dataclass(frozen=True)
class SkillResult:
    skill: str
    level: int
    accuracy: float
    correct: int
    total: int
    regime: str
    report_asset: str
    eval_set_hash: str
    mean_partial_score: float


@dataclass(frozen=True)
class Evaluation:
    name: str
    campaign: str
    checkpoint: str
    skills: tuple[str, ...]
    full: bool
    state: EvalState
    results: tuple[SkillResult, ...] = ()
    error: str = ""
    attempts: int = 0
    problems_done: int = 0
    problems_total: int = 0
    create_time: float = 0.0
    end_time: float = 0.0
    trigger: str = TRIGGER_REQUEST
    next_attempt_time: float = 0.0
    superseded_by: str = ""
    start_time: float = 0.0
    sparring_quest: str = ""
    # The eval sets, frozen at the first attempt so a retry runs the same ones.
    plan: tuple[PlannedSet, ...] = ()
    version: int = field(default=0, compare=False)

    @property
    def finished(self) -> bool:
        return self.state in (EvalState.SUCCEEDED, EvalState.FAILED, EvalState.SUPERSEDED)


@dataclass(frozen=True)
class Effect:
    """An outbox row: an effect on a peer (kind superseded | sparring), delivered until it lands."""

    id: int
    kind: str
    payload: dict
    attempts: int = 0
