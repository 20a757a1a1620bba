"""Trainer configuration: the `trainer:` section of realm.yaml, validated where it is built.

    trainer:
      heroes_dir: heroes              # hero YAML files; relative paths resolve against the realm.yaml directory
      validation_level: STANDARD      # QUICK | STANDARD | DEEP: how the curriculum checks each quest
      max_quest_bytes: 2147483648
      worker_command: [python, -m, services.trainer.worker]   # default: this interpreter; `--job FILE` is added
      worker_env: {OMP_NUM_THREADS: "1"}
      worker_reuse: true              # one long-lived worker across consecutive quests (false: a process per quest)
      worker_idle_release_s: 300      # an idle long-lived worker exits after this long without a quest
      restart_budget: 3               # worker crashes tolerated per quest before it is FAILED
      control_timeout_s: 300          # a worker that ignores pause/stop/skip this long is killed
      shutdown_grace_s: 20
      idle_poll_s: 2
      validation_retry_s: 15          # quests left VALIDATING (curriculum down) are retried this often
      hero_loop_interval_s: 10
      outbox_retry_initial_s: 0.5     # vault registration back-off
      outbox_retry_max_s: 30
      ledger_retry_initial_s: 0.5     # vault ledger (level-ups) reconnect back-off
      ledger_retry_max_s: 30
      event_retention: 200000         # trainer events kept in SQLite

State lives under `<data_dir>/trainer`. An unknown key or a bad value is a ConfigError naming `trainer.<key>`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.kit.config import ConfigError

# Where the `services` package lives: the worker runs from here, whatever the project root is.
CODE_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WORKER_COMMAND = (sys.executable, "-m", "services.trainer.worker")
VALIDATION_LEVELS = ("QUICK", "STANDARD", "DEEP")


@dataclass(frozen=True)
class ControllerSettings:
    """The run controller's slice of the trainer config."""

    worker_command: tuple[str, ...] = DEFAULT_WORKER_COMMAND
    worker_env: dict[str, str] = field(default_factory=dict)
    restart_budget: int = 3
    control_timeout_s: float = 300.0
    shutdown_grace_s: float = 20.0
    idle_poll_s: float = 2.0
    validation_retry_s: float = 15.0
    code_root: Path = CODE_ROOT
    # One worker process for consecutive quests (it says `ready` and takes the next job on stdin) instead of a
    # process start, imports and model load per quest; an idle one is released after worker_idle_release_s.
    worker_reuse: bool = True
    worker_idle_release_s: float = 300.0


@dataclass(frozen=True)
class TrainerConfig:
    data_root: Path  # settings.data_dir / "trainer"
    heroes_dir: Path
    project_root: Path
    controller: ControllerSettings = field(default_factory=ControllerSettings)
    validation_level: str = "VALIDATION_LEVEL_STANDARD"
    max_quest_bytes: int = 2 * 1024**3
    hero_loop_interval_s: float = 10.0
    outbox_retry_initial_s: float = 0.5
    outbox_retry_max_s: float = 30.0
    event_retention: int = 200_000
    ledger_retry_initial_s: float = 0.5
    ledger_retry_max_s: float = 30.0

    @classmethod
    def from_section(cls, section: Mapping[str, Any], *, data_dir: Path, root: Path) -> TrainerConfig:
        unknown = sorted(set(section) - KNOWN_KEYS)
        if unknown:
            raise ConfigError(f"trainer.{unknown[0]}", f"unknown setting (known: {', '.join(sorted(KNOWN_KEYS))})")
        read = _Reader(section)
        heroes_dir = Path(read.text("heroes_dir", "heroes")).expanduser()
        controller = ControllerSettings(
            worker_command=read.command("worker_command"),
            worker_env=read.env("worker_env"),
            restart_budget=read.integer("restart_budget", 3, minimum=0),
            control_timeout_s=read.seconds("control_timeout_s", 300.0),
            shutdown_grace_s=read.seconds("shutdown_grace_s", 20.0),
            idle_poll_s=read.seconds("idle_poll_s", 2.0),
            validation_retry_s=read.seconds("validation_retry_s", 15.0),
            worker_reuse=read.flag("worker_reuse", True),
            worker_idle_release_s=read.seconds("worker_idle_release_s", 300.0),
        )
        return cls(
            data_root=data_dir / "trainer",
            heroes_dir=heroes_dir if heroes_dir.is_absolute() else root / heroes_dir,
            project_root=root,
            controller=controller,
            validation_level=read.validation_level("validation_level"),
            max_quest_bytes=read.integer("max_quest_bytes", 2 * 1024**3, minimum=1),
            hero_loop_interval_s=read.seconds("hero_loop_interval_s", 10.0),
            outbox_retry_initial_s=read.seconds("outbox_retry_initial_s", 0.5),
            outbox_retry_max_s=read.seconds("outbox_retry_max_s", 30.0),
            event_retention=read.integer("event_retention", 200_000, minimum=1),
            ledger_retry_initial_s=read.seconds("ledger_retry_initial_s", 0.5),
            ledger_retry_max_s=read.seconds("ledger_retry_max_s", 30.0),
        )


KNOWN_KEYS = frozenset({
    "heroes_dir", "validation_level", "max_quest_bytes", "worker_command", "worker_env", "restart_budget",
    "control_timeout_s", "shutdown_grace_s", "idle_poll_s", "validation_retry_s", "hero_loop_interval_s",
    "outbox_retry_initial_s", "outbox_retry_max_s", "event_retention", "ledger_retry_initial_s",
    "ledger_retry_max_s", "worker_reuse", "worker_idle_release_s",
})


class _Reader:
    """Typed reads of one section; every error names `trainer.<key>`."""

    def __init__(self, section: Mapping[str, Any]) -> None:
        self.section = section

    def _error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"trainer.{key}", message)

    def text(self, key: str, default: str) -> str:
        value = self.section.get(key, default)
        if not isinstance(value, str) or not value:
            raise self._error(key, f"must be a non-empty string, got {value!r}")
        return value

    def integer(self, key: str, default: int, *, minimum: int) -> int:
        value = self.section.get(key, default)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._error(key, f"must be an integer >= {minimum}, got {value!r}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.section.get(key, default)
        if not isinstance(value, bool):
            raise self._error(key, f"must be true or false, got {value!r}")
        return value

    def seconds(self, key: str, default: float) -> float:
        value = self.section.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise self._error(key, f"must be a number of seconds >= 0, got {value!r}")
        return float(value)

    def command(self, key: str) -> tuple[str, ...]:
        value = self.section.get(key)
        if value is None:
            return DEFAULT_WORKER_COMMAND
        if not isinstance(value, list | tuple) or not value or not all(isinstance(p, str) and p for p in value):
            raise self._error(key, f"must be a non-empty list of strings, got {value!r}")
        return tuple(value)

    def env(self, key: str) -> dict[str, str]:
        value = self.section.get(key) or {}
        if not isinstance(value, Mapping):
            raise self._error(key, f"must be a mapping of variable -> value, got {value!r}")
        return {str(k): str(v) for k, v in value.items()}

    def validation_level(self, key: str) -> str:
        value = self.section.get(key, "STANDARD")
        level = str(value).upper().removeprefix("VALIDATION_LEVEL_")
        if level not in VALIDATION_LEVELS:
            raise self._error(key, f"must be one of {', '.join(VALIDATION_LEVELS)}, got {value!r}")
        return f"VALIDATION_LEVEL_{level}"
