"""Curriculum configuration: the `curriculum:` section of realm.yaml, validated where it is built.

    curriculum:
      state_dir: var/curriculum        # SQLite stores (default: <data_dir>/curriculum); relative to realm.yaml
      eval_window: 3                   # level up on the mean of the last K evals at the training level
      thresholds: {bin: 0.9}           # optional per-skill pass threshold overriding every level's own
      broken_loss: 0.05                # 0 % accuracy while the training loss is below this: flagged
      default_preset: equal            # scheduling preset when a request names none
      review_share: 0.2                # share of each planned batch above L1 drawn from the 3 levels below it
      eval_concurrency: 8              # chat calls in flight per trial
      auto_evaluate: true              # follow the vault ledger and trial every new checkpoint
      trial_cooldown_s: 10             # minimum interval between follower trial starts, per campaign
      trial_retry_initial_s: 2         # first backoff after a retryable failure; doubles per attempt
      trial_retry_max_s: 60
      full_eval_every: 5               # every K-th checkpoint of a campaign gets a full eval; 0 = never
      sparring: {enabled: true, share: 0.5, max_rows: 200}

Every error is a ConfigError naming the dotted key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.curriculum.progression import ProgressionConfig, parse_preset
from services.curriculum.skills.base import MAX_REVIEW_SHARE
from services.kit.config import ConfigError
from services.kit.errors import InvalidArgument

SECTION = "curriculum"


def _key(name: str) -> str:
    return f"{SECTION}.{name}"


def _number(section: Mapping[str, Any], name: str, default: float, *, prefix: str = "") -> float:
    value = section.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(_key(prefix + name), f"must be a number, got {value!r}")
    if value < 0:
        raise ConfigError(_key(prefix + name), "must be >= 0")
    return float(value)


def _integer(section: Mapping[str, Any], name: str, default: int, *, minimum: int = 0, prefix: str = "") -> int:
    value = section.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(_key(prefix + name), f"must be an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(_key(prefix + name), f"must be >= {minimum}")
    return value


def _flag(section: Mapping[str, Any], name: str, default: bool, *, prefix: str = "") -> bool:
    value = section.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(_key(prefix + name), f"must be true or false, got {value!r}")
    return value


@dataclass(frozen=True)
class SparringConfig:
    enabled: bool = True
    share: float = 0.5  # fraction of a trial's wrong answers (at the training level) turned into rows
    max_rows: int = 200

    @classmethod
    def from_section(cls, raw: Any) -> SparringConfig:
        raw = raw if raw is not None else {}
        if not isinstance(raw, Mapping):
            raise ConfigError(_key("sparring"), "must be a mapping {enabled, share, max_rows}")
        share = _number(raw, "share", 0.5, prefix="sparring.")
        if share > 1.0:
            raise ConfigError(_key("sparring.share"), "must be within 0..1")
        return cls(_flag(raw, "enabled", True, prefix="sparring."), share,
                   _integer(raw, "max_rows", 200, prefix="sparring."))


@dataclass(frozen=True)
class TrialPolicy:
    cooldown_s: float = 10.0  # minimum interval between follower trial starts, per campaign
    retry_initial_s: float = 2.0  # first backoff after a retryable failure; doubles per attempt
    retry_max_s: float = 60.0
    full_eval_every: int = 5  # every K-th checkpoint of a campaign gets a full eval; 0 = never
    sparring: SparringConfig = field(default_factory=SparringConfig)

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> TrialPolicy:
        return cls(_number(section, "trial_cooldown_s", 10.0), _number(section, "trial_retry_initial_s", 2.0),
                   _number(section, "trial_retry_max_s", 60.0), _integer(section, "full_eval_every", 5),
                   SparringConfig.from_section(section.get("sparring")))

    def backoff(self, attempts: int) -> float:
        return min(self.retry_initial_s * 2 ** max(attempts - 1, 0), self.retry_max_s)


def progression_from_section(section: Mapping[str, Any]) -> ProgressionConfig:
    thresholds_raw = section.get("thresholds") or {}
    if not isinstance(thresholds_raw, Mapping):
        raise ConfigError(_key("thresholds"), "must be a mapping of skill -> pass threshold")
    thresholds: dict[str, float] = {}
    for skill, value in thresholds_raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= 1.0:
            raise ConfigError(_key(f"thresholds.{skill}"), f"must be a number within (0, 1], got {value!r}")
        thresholds[str(skill)] = float(value)
    preset = section.get("default_preset", "equal")
    if not isinstance(preset, str):
        raise ConfigError(_key("default_preset"), f"must be a preset name, got {preset!r}")
    try:
        parse_preset(preset)
    except InvalidArgument as exc:
        raise ConfigError(_key("default_preset"), str(exc)) from None
    review_share = _number(section, "review_share", ProgressionConfig.review_share)
    if review_share > MAX_REVIEW_SHARE:
        raise ConfigError(_key("review_share"), f"must be within 0..{MAX_REVIEW_SHARE}, got {review_share}")
    return ProgressionConfig(eval_window=_integer(section, "eval_window", 3, minimum=1), thresholds=thresholds,
                             broken_loss=_number(section, "broken_loss", 0.05), default_preset=preset,
                             review_share=review_share)


@dataclass(frozen=True)
class CurriculumConfig:
    state_dir: Path
    progression: ProgressionConfig = field(default_factory=ProgressionConfig)
    trials: TrialPolicy = field(default_factory=TrialPolicy)
    eval_concurrency: int = 8
    auto_evaluate: bool = True

    @property
    def progression_db(self) -> Path:
        return self.state_dir / "curriculum.db"

    @property
    def evaluations_db(self) -> Path:
        return self.state_dir / "evaluations.db"

    @classmethod
    def from_section(cls, section: Mapping[str, Any], *, data_dir: Path, root: Path) -> CurriculumConfig:
        if not isinstance(section, Mapping):
            raise ConfigError(SECTION, "must be a mapping")
        raw_dir = section.get("state_dir") or Path(data_dir) / "curriculum"
        if not isinstance(raw_dir, (str, Path)):
            raise ConfigError(_key("state_dir"), f"must be a path, got {raw_dir!r}")
        state_dir = Path(raw_dir).expanduser()
        return cls(state_dir=state_dir if state_dir.is_absolute() else Path(root) / state_dir,
                   progression=progression_from_section(section), trials=TrialPolicy.from_section(section),
                   eval_concurrency=_integer(section, "eval_concurrency", 8, minimum=1),
                   auto_evaluate=_flag(section, "auto_evaluate", True))
