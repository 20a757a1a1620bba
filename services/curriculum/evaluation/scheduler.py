"""Scheduling decisions for trials, as pure functions: which pending trial starts next, which eval sets a trial
runs, and whether a follower checkpoint gets a full eval. The runner applies them; nothing here does I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.curriculum.evaluation.model import TRIGGER_CHECKPOINT, Evaluation, PlannedSet
from services.curriculum.progression import SkillProgress


def next_due(pending: Sequence[Evaluation], last_start: Mapping[str, float], now: float,
             cooldown_s: float) -> tuple[Evaluation | None, float | None]:
    """The PENDING evaluation to start now (oldest first), or (None, when to look again).

    A retried trial waits for its backoff; a follower trial also waits until `cooldown_s` after the last
    follower trial of its campaign started."""
    wake_at: float | None = None
    for ev in sorted(pending, key=lambda e: (e.create_time, e.name)):
        due = ev.next_attempt_time
        if ev.trigger == TRIGGER_CHECKPOINT and cooldown_s > 0 and ev.campaign in last_start:
            due = max(due, last_start[ev.campaign] + cooldown_s)
        if due <= now:
            return ev, None
        wake_at = due if wake_at is None else min(wake_at, due)
    return None, wake_at


def plan_sets(progress: Sequence[SkillProgress], full: bool) -> tuple[PlannedSet, ...]:
    """The eval sets to run: each skill's training level (with `full`: every level up to it + 1)."""
    plan: list[PlannedSet] = []
    for sp in progress:
        levels = range(1, min(sp.training_level + 1, sp.max_level) + 1) if full else [sp.training_level]
        plan += [(sp.skill, level, level == sp.training_level) for level in levels]
    return tuple(plan)


def is_full_eval(checkpoint_count: int, full_eval_every: int) -> bool:
    """Every `full_eval_every`-th checkpoint of a campaign gets a full eval (0: never)."""
    return full_eval_every > 0 and checkpoint_count % full_eval_every == 0
