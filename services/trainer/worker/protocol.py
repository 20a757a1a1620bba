"""The trainer <-> worker protocol, written once and used by both sides (see README.md in this folder).

- `Job`: the job file (run_dir/job.json) the controller writes and the worker reads (`write_job` / `load_job`).
- `ControlWord`: what the controller writes to run_dir/control (`write_control` / `read_control`).
- `WorkerEvent` subclasses: the JSON lines the worker prints on stdout (`to_json` / `WorkerEvent.from_json`).
- "latest checkpoint" has one rule, `checkpoints.latest_checkpoint`, reached here as `Job.latest_checkpoint()`.

It lives in the worker package, which never imports the service, so the worker stays importable on its own and
the service imports the protocol from here. Nothing in it needs torch.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import typing
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from services.kit.errors import InvalidArgument
from services.kit.files import atomic_write_text
from services.kit.mantra import Mantra
from services.trainer.worker.checkpoints import latest_checkpoint
from services.trainer.worker.config import TrainingConfig, build_training_config

JOB_FILE = "job.json"
CONTROL_FILE = "control"
CHECKPOINTS_DIR = "checkpoints"


# ---- control words -------------------------------------------------------------------------------------------
class ControlWord(StrEnum):
    PAUSE = "pause"
    STOP = "stop"
    SKIP = "skip"
    FINISH = "finish"  # end the quest now as completed: a final checkpoint, then `completed`


def write_control(run_dir: Path, word: ControlWord) -> None:
    """Atomically replace run_dir/control, so the worker never reads half a word."""
    atomic_write_text(Path(run_dir) / CONTROL_FILE, word.value)


def clear_control(run_dir: Path) -> None:
    (Path(run_dir) / CONTROL_FILE).unlink(missing_ok=True)


def read_control(run_dir: Path) -> ControlWord | None:
    """The controller's request, or None; an unknown word is ignored."""
    try:
        word = (Path(run_dir) / CONTROL_FILE).read_text().strip().lower()
    except FileNotFoundError:
        return None
    try:
        return ControlWord(word)
    except ValueError:
        return None


# ---- the job file --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    quest: str
    campaign: str
    hero: str
    model_dir: Path
    dataset_path: Path
    run_dir: Path
    config: TrainingConfig
    resume: bool = False
    # Campaign totals before this quest started; on a resume pass the same values again.
    global_step_offset: int = 0
    trained_tokens_offset: int = 0
    # Optional: a chat template that replaces the tokenizer's (a hero YAML may set one); saved in checkpoints.
    chat_template: str | None = None
    # The campaign's mantra (services/kit/mantra.py), applied to every chat row and saved as mantra.json in each
    # checkpoint; mantra_date (YYYY-MM-DD) fills its {date}, fixed per job so a resume tokenises identically.
    mantra: Mantra | None = None
    mantra_date: str = ""

    @property
    def path(self) -> Path:
        return self.run_dir / JOB_FILE

    @property
    def checkpoints_dir(self) -> Path:
        return self.run_dir / CHECKPOINTS_DIR

    @property
    def control_path(self) -> Path:
        return self.run_dir / CONTROL_FILE

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint of this run: where `resume: true` continues from."""
        return latest_checkpoint(self.checkpoints_dir)

    def to_dict(self) -> dict[str, Any]:
        return {
            "quest": self.quest,
            "campaign": self.campaign,
            "hero": self.hero,
            "model_dir": str(self.model_dir),
            "dataset_path": str(self.dataset_path),
            "run_dir": str(self.run_dir),
            "config": self.config.to_dict(),
            "resume": self.resume,
            "global_step_offset": self.global_step_offset,
            "trained_tokens_offset": self.trained_tokens_offset,
            **({"chat_template": self.chat_template} if self.chat_template else {}),
            **({"mantra": self.mantra.to_dict(), "mantra_date": self.mantra_date} if self.mantra is not None else {}),
        }


_JOB_KEYS = frozenset(f.name for f in dataclasses.fields(Job))


def job_from_dict(data: dict[str, Any]) -> Job:
    if not isinstance(data, dict):
        raise InvalidArgument("the job must be a JSON object", field="job")
    for key in data:
        if key not in _JOB_KEYS:
            raise InvalidArgument("unknown job key", field=key)
    for key in ("model_dir", "dataset_path", "run_dir"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise InvalidArgument("must be a non-empty path", field=key)
    for key in ("global_step_offset", "trained_tokens_offset"):
        value = data.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgument(f"must be an integer >= 0, got {value!r}", field=key)
    if data.get("chat_template") is not None and not isinstance(data["chat_template"], str):
        raise InvalidArgument("must be a string (a Jinja chat template)", field="chat_template")
    if not isinstance(data.get("resume", False), bool):
        raise InvalidArgument("must be true or false", field="resume")
    return Job(
        quest=str(data.get("quest", "")),
        campaign=str(data.get("campaign", "")),
        hero=str(data.get("hero", "")),
        model_dir=Path(data["model_dir"]),
        dataset_path=Path(data["dataset_path"]),
        run_dir=Path(data["run_dir"]),
        config=build_training_config({}, data.get("config") or {}),
        resume=data.get("resume", False),
        global_step_offset=data.get("global_step_offset", 0),
        trained_tokens_offset=data.get("trained_tokens_offset", 0),
        chat_template=data.get("chat_template") or None,
        mantra=Mantra.from_dict(data["mantra"]) if data.get("mantra") is not None else None,
        mantra_date=_mantra_date(data.get("mantra_date", "")),
    )


def _mantra_date(value: Any) -> str:
    if value in ("", None):
        return ""
    try:
        return datetime.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InvalidArgument(f"must be a date YYYY-MM-DD, got {value!r}", field="mantra_date") from None


def load_job(path: Path) -> Job:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"cannot read the job file: {exc}", field="job") from None
    return job_from_dict(data)


def write_job(job: Job) -> Path:
    """Write run_dir/job.json atomically (temp + fsync + rename); returns its path."""
    return atomic_write_text(job.path, json.dumps(job.to_dict(), indent=2))


# ---- events --------------------------------------------------------------------------------------------------
class WorkerEventKind(StrEnum):
    STARTED = "started"
    STEP = "step"
    CHECKPOINT_SAVED = "checkpoint_saved"
    COMPLETED = "completed"
    PAUSED = "paused"
    STOPPED = "stopped"
    SKIPPED = "skipped"
    FAILED = "failed"
    # A long-lived worker (REALM_WORKER_SERVE=1) after its job's terminal event: it reads the next job file's
    # path on stdin (EOF: it exits). A worker that never sends it simply exits after the terminal event.
    READY = "ready"


# After one of these the job is over: the worker exits, or sends `ready` and waits for the next job.
TERMINAL_EVENT_KINDS = frozenset({
    WorkerEventKind.COMPLETED, WorkerEventKind.PAUSED, WorkerEventKind.STOPPED, WorkerEventKind.SKIPPED,
    WorkerEventKind.FAILED,
})


class MalformedEvent(ValueError):
    """A stdout line that claims to be an event but does not fit the protocol."""


@dataclass(frozen=True)
class WorkerEvent:
    """One stdout line of the worker: {"event": KIND, "quest": ..., "campaign": ..., <fields of the kind>}.

    Every field has a default so a worker may leave out what it does not know; unknown keys are ignored."""

    KIND: ClassVar[WorkerEventKind]
    quest: str = ""
    campaign: str = ""

    @property
    def terminal(self) -> bool:
        return self.KIND in TERMINAL_EVENT_KINDS

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.KIND.value, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> WorkerEvent:
        try:
            cls = _EVENT_CLASSES[WorkerEventKind(data["event"])]
        except (KeyError, ValueError, TypeError):
            raise MalformedEvent(f"unknown event {data.get('event')!r}") from None
        types_of = _FIELD_TYPES[cls]
        return cls(**{name: _coerce(name, kind, data[name]) for name, kind in types_of.items() if name in data})

    @staticmethod
    def from_json(line: str | bytes) -> WorkerEvent | None:
        """The event on one stdout line; None for a line that is not an event object at all."""
        try:
            data = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or "event" not in data:
            return None
        return WorkerEvent.from_dict(data)


@dataclass(frozen=True)
class StartedEvent(WorkerEvent):
    KIND: ClassVar[WorkerEventKind] = WorkerEventKind.STARTED
    hero: str = ""
    global_step: int = 0
    quest_step: int = 0
    quest_steps_total: int = 0
    steps_per_epoch: int = 0
    resumed_from: str | None = None
    examples: int = 0
    sequences: int = 0
    packing_efficiency: float = 0.0
    mask_ratio: float = 0.0
    dataset_tokens: int = 0
    config_hash: str = ""
    world_size: int = 1
    device: str = ""
    precision: str = ""
    parameters: int = 0
    trainable_parameters: int = 0


# The StepEvent fields that make a trainer STEP event (StepMetrics in the proto).
STEP_METRICS = (
    "global_step", "quest_step", "quest_steps_total", "loss", "learning_rate", "grad_norm",
    "tokens_per_second", "trained_tokens", "eta_seconds", "memory_bytes", "epoch",
)


@dataclass(frozen=True)
class StepEvent(WorkerEvent):
    KIND: ClassVar[WorkerEventKind] = WorkerEventKind.STEP
    global_step: int = 0
    quest_step: int = 0
    quest_steps_total: int = 0
    loss: float = 0.0
    learning_rate: float = 0.0
    grad_norm: float = 0.0
    tokens_per_second: float = 0.0
    # Campaign total of non-padding tokens trained on (trained_tokens_offset + this quest).
    trained_tokens: int = 0
    # Tokens that carried loss (assistant tokens) in this step.
    target_tokens: int = 0
    eta_seconds: float | None = None
    memory_bytes: int = 0
    epoch: int = 0

    def metrics(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in STEP_METRICS}


@dataclass(frozen=True)
class CheckpointSavedEvent(WorkerEvent):
    KIND: ClassVar[WorkerEventKind] = WorkerEventKind.CHECKPOINT_SAVED
    path: str = ""
    global_step: int = 0
    quest_step: int = 0
    config_hash: str = ""
    tokenizer_hash: str = ""
    chat_template_hash: str = ""
    loss: float | None = None
    save_seconds: float = 0.0  # wall time of the save itself (the loop's time split counts it apart)


@dataclass(frozen=True)
class CompletedEvent(WorkerEvent):
    KIND: ClassVar[WorkerEventKind] = WorkerEventKind.COMPLETED
    global_step: int = 0
    quest_step: int = 0
    loss: float | None = None
    trained_tokens: int = 0
    path: str | None = None  # the final checkpoint


@dataclass(frozen=True)
class PausedEvent(WorkerEvent):
    KIND: ClassVar[WorkerEventKind] = WorkerEventKind.PAUSED
    global_step: int = 0
    quest_step: int = 0
    path: str | None = None  # the checkpoint holding all progress, None if none was made


@dataclass(frozen=True)
class StoppedEvent(WorkerEvent):
    KIND: ClassVar[WorkerEventKind] = WorkerEventKind.STOPPED
    global_step: int = 0
    quest_step: int = 0
    path: str | None = None


@dataclass(frozen=True)
class SkippedEvent(WorkerEvent):
    KIND: ClassVar[WorkerEventKind] = WorkerEventKind.SKIPPED
    global_step: int = 0
    quest_step: int = 0


@dataclass(frozen=True)
class ReadyEvent(WorkerEvent):
    KIND: ClassVar[WorkerEventKind] = WorkerEventKind.READY
    jobs_done: int = 0  # jobs this process has run so far
    pid: int = 0


@dataclass(frozen=True)
class FailedEvent(WorkerEvent):
    KIND: ClassVar[WorkerEventKind] = WorkerEventKind.FAILED
    error: str = ""
    kind: str = ""  # the exception's type name
    # False: a resume would replay the same computation (bad job, masking, non-finite loss); do not restart.
    retryable: bool = False


_EVENT_CLASSES: dict[WorkerEventKind, type[WorkerEvent]] = {
    cls.KIND: cls for cls in (StartedEvent, StepEvent, CheckpointSavedEvent, CompletedEvent, PausedEvent,
                              StoppedEvent, SkippedEvent, FailedEvent, ReadyEvent)
}
# The environment variable that asks the worker to stay up for further jobs (see READY).
SERVE_ENV = "REALM_WORKER_SERVE"
# The event a worker answers each halting control word with.
HALT_EVENTS: dict[ControlWord, type[WorkerEvent]] = {ControlWord.PAUSE: PausedEvent, ControlWord.STOP: StoppedEvent}


def _field_types(cls: type[WorkerEvent]) -> dict[str, tuple[bool, type]]:
    """name -> (may be None, base type) for every field of an event class."""
    hints = typing.get_type_hints(cls)
    found = {}
    for spec in dataclasses.fields(cls):
        hint = hints[spec.name]
        optional = type(None) in typing.get_args(hint)
        found[spec.name] = (optional, next(a for a in typing.get_args(hint) if a is not type(None)) if optional
                            else hint)
    return found


_FIELD_TYPES = {cls: _field_types(cls) for cls in _EVENT_CLASSES.values()}


def _coerce(name: str, kind: tuple[bool, type], value: Any) -> Any:
    """A JSON value as the field's type (int, float, str, bool; None where the type allows it)."""
    optional, base = kind
    if value is None:
        if optional:
            return None
        raise MalformedEvent(f"{name} must not be null")
    if base is bool and not isinstance(value, bool):
        raise MalformedEvent(f"{name} must be true or false, got {value!r}")
    if base is int and isinstance(value, float) and not value.is_integer():
        raise MalformedEvent(f"{name} must be an integer, got {value!r}")
    try:
        return base(value)
    except (TypeError, ValueError):
        raise MalformedEvent(f"{name} must be {base.__name__}, got {value!r}") from None
