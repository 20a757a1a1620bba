"""Transfer baselines ("passives"): does training one thing make the hero forget another?

A campaign's passive sets are frozen eval sets of what it does not train now:
- every skill the campaign does not train (disabled in its curriculum): its levels 1..`untrained_levels`;
- every skill it trains: the `levels_below` levels right below its training level (mastered ones).
Each set is the first `problems_per_set` problems of the level's frozen eval set, so the base model and every
checkpoint answer the very same problems. The base model is measured once per set (sets it already has are
not run again); checkpoints are measured as background tasks on the inference host (idle_tasks.py). The report
puts every measurement next to the base model's accuracy on the same set: a negative delta is forgetting, and
one below -`regression_threshold` is flagged.

Plain Python: the model is reached through a `chat(model, messages, max_new_tokens) -> str` callable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from services.curriculum.passives_store import Measurement, PassivesStore
from services.curriculum.progression import ProgressionStore, campaign_id
from services.curriculum.skills.base import Problem, Skill, eval_set
from services.curriculum.skills.registry import SkillRegistry
from services.kit.config import ConfigError
from services.kit.errors import InvalidArgument

Chat = Callable[[str, Sequence[Mapping[str, str]], int], str]
Progress = Callable[[float, str], None]
TOKEN_SLACK = 32
CONFIG_KEYS = frozenset({"untrained_levels", "levels_below", "problems_per_set", "regression_threshold",
                         "concurrency", "poll_seconds"})


@dataclass(frozen=True)
class PassivesConfig:
    untrained_levels: int = 2
    levels_below: int = 5
    problems_per_set: int = 50
    regression_threshold: float = 0.05
    concurrency: int = 4  # answers in flight per set: they batch together on the inference host
    poll_seconds: float = 5.0  # how often the idle-task worker asks the inference host for work

    @classmethod
    def from_section(cls, raw: Any) -> PassivesConfig:
        """`curriculum.passives: {untrained_levels, levels_below, problems_per_set, regression_threshold}`."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError("curriculum.passives", f"must be a mapping of {sorted(CONFIG_KEYS)}")
        unknown = sorted(set(raw) - CONFIG_KEYS)
        if unknown:
            raise ConfigError(f"curriculum.passives.{unknown[0]}", f"unknown key; known keys are {sorted(CONFIG_KEYS)}")
        values: dict[str, Any] = {}
        for key in ("untrained_levels", "levels_below", "problems_per_set", "concurrency"):
            value = raw.get(key, getattr(cls, key))
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key != "levels_below" else 0):
                raise ConfigError(f"curriculum.passives.{key}", f"must be a positive integer, got {value!r}")
            values[key] = value
        threshold = raw.get("regression_threshold", cls.regression_threshold)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            raise ConfigError("curriculum.passives.regression_threshold", f"must be within 0..1, got {threshold!r}")
        poll = raw.get("poll_seconds", cls.poll_seconds)
        if isinstance(poll, bool) or not isinstance(poll, int | float) or poll <= 0:
            raise ConfigError("curriculum.passives.poll_seconds", f"must be a positive number, got {poll!r}")
        return cls(**values, regression_threshold=float(threshold), poll_seconds=float(poll))


@dataclass(frozen=True)
class PassiveSet:
    skill: str
    level: int

    def __str__(self) -> str:
        return f"{self.skill}/{self.level}"


@dataclass(frozen=True)
class ReportRow:
    measurement: Measurement
    base_accuracy: float
    has_base: bool
    delta: float
    regression: bool


@dataclass(frozen=True)
class SkillSummary:
    skill: str
    checkpoint: str
    mean_delta: float
    regression: bool
    levels: tuple[int, ...]


@dataclass(frozen=True)
class PassivesReport:
    campaign: str
    base_model: str
    sets: tuple[PassiveSet, ...]
    rows: tuple[ReportRow, ...]
    skills: tuple[SkillSummary, ...]
    regression_threshold: float


class Passives:
    def __init__(self, store: PassivesStore, registry: SkillRegistry, progression: ProgressionStore,
                 config: PassivesConfig | None = None) -> None:
        self.store = store
        self.registry = registry
        self.progression = progression
        self.config = config or PassivesConfig()

    def sets(self, campaign: str) -> list[PassiveSet]:
        chosen: list[PassiveSet] = []
        progress = self.progression.progress(campaign_id(campaign)).skills
        for sp in progress:
            if not sp.enabled:
                levels = range(1, min(self.config.untrained_levels, sp.max_level) + 1)
            else:
                levels = range(max(1, sp.training_level - self.config.levels_below), sp.training_level)
            chosen += [PassiveSet(sp.skill, level) for level in levels]
        # Registered skills the campaign never configured are not trained either.
        configured = {sp.skill for sp in progress}
        for name in self.registry.names():
            if name not in configured:
                levels = range(1, min(self.config.untrained_levels, len(self.registry.get(name).levels())) + 1)
                chosen += [PassiveSet(name, level) for level in levels]
        return chosen

    def problems(self, passive: PassiveSet) -> tuple[Skill, tuple[Problem, ...], str]:
        skill = self.registry.get(passive.skill)
        frozen = eval_set(skill, passive.level)
        count = min(self.config.problems_per_set, len(frozen.problems))
        return skill, frozen.problems[:count], f"{frozen.content_hash[:16]}/first{count}"

    def run(self, campaign: str, *, model: str, checkpoint: str, base: bool, chat: Chat,
            progress: Progress | None = None, global_step: int = 0) -> list[Measurement]:
        """Measure `model` (served from `checkpoint`) on the campaign's passive sets it has no result for."""
        cid = campaign_id(campaign)
        if not checkpoint:
            raise InvalidArgument("name the checkpoint to measure", field="checkpoint")
        if base:
            self.store.set_base(cid, checkpoint)
        done = self.store.measured(cid, checkpoint)
        todo = []
        for passive in self.sets(cid):
            skill, problems, set_hash = self.problems(passive)
            if (passive.skill, passive.level, set_hash) not in done:
                todo.append((passive, skill, problems, set_hash))
        measured = []
        for index, (passive, skill, problems, set_hash) in enumerate(todo):
            if progress is not None:
                progress(index / len(todo), f"{passive} on {checkpoint}")
            correct = self._grade(skill, problems, model, chat)
            measurement = Measurement(cid, checkpoint, base, passive.skill, passive.level, set_hash, correct,
                                      len(problems), global_step)
            self.store.record(measurement)
            measured.append(measurement)
        return measured

    def _grade(self, skill: Skill, problems: Sequence[Problem], model: str, chat: Chat) -> int:
        def one(problem: Problem) -> bool:
            response = chat(model, [m.to_dict() for m in problem.prompt], len(problem.solution) + TOKEN_SLACK)
            return skill.grade(problem, response).correct

        with ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="passive") as pool:
            return sum(pool.map(one, problems))

    def report(self, campaign: str) -> PassivesReport:
        cid = campaign_id(campaign)
        results = self.store.results(cid)
        base_model = self.store.base(cid)
        base = {(m.skill, m.level, m.eval_set_hash): m.accuracy for m in results
                if m.base and m.checkpoint == base_model}
        threshold = self.config.regression_threshold
        rows = []
        for m in results:
            key = (m.skill, m.level, m.eval_set_hash)
            has_base = key in base
            delta = m.accuracy - base[key] if has_base else 0.0
            rows.append(ReportRow(m, base.get(key, 0.0), has_base, delta, has_base and delta < -threshold))
        return PassivesReport(cid, base_model, tuple(self.sets(cid)), tuple(rows), _summaries(rows, threshold),
                              threshold)


def _summaries(rows: Sequence[ReportRow], threshold: float) -> tuple[SkillSummary, ...]:
    """Per skill, its newest measured checkpoint's mean delta over the levels that have a base result."""
    newest: dict[str, str] = {}
    for row in rows:  # oldest first: the last one seen per skill is the newest
        if not row.measurement.base and row.has_base:
            newest[row.measurement.skill] = row.measurement.checkpoint
    summaries = []
    for skill, checkpoint in sorted(newest.items()):
        mine = [r for r in rows if r.measurement.skill == skill and r.measurement.checkpoint == checkpoint
                and not r.measurement.base and r.has_base]
        mean = sum(r.delta for r in mine) / len(mine)
        summaries.append(SkillSummary(skill, checkpoint, mean, mean < -threshold,
                                      tuple(sorted(r.measurement.level for r in mine))))
    return tuple(summaries)
