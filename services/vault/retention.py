"""Retention planning: a pure function from a policy and the facts about a campaign's checkpoints to a plan.

Keep reasons are guarantees: a checkpoint with any of them is never deleted by the policy.
    latest            the campaign's `latest` alias points at it
    alias/<name>      a user alias points at it
    pinned            pinned, and the policy keeps pinned assets
    best/<skill>      keep_best_per_skill and it is the `best/<skill>` alias target or has the top accuracy
    keep_latest       among the `keep_latest` highest global steps
    newer_than        younger than keep_newer_than
    too_few_evals     fewer evals than min_evals_before_delete (not for superseded checkpoints)
With `guard` (the automatic run after each checkpoint registration) these hold whatever the policy says:
    best/<skill>      a `best/<skill>` alias points at it
    pinned            it is pinned
    not_evaluated     no eval yet, and the curriculum did not supersede it (label trial=superseded)
Delete reasons:
    beyond_keep_latest       keep_latest > 0 and no keep reason applies
    zone_byte_cap:<zone>     the zone's stored bytes exceed its cap; oldest unprotected checkpoints go first
With keep_latest = 0 unprotected checkpoints are kept ("no_delete_rule") unless a byte cap needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.vault.models import GcDecision, RetentionPolicy

# A stored file, identified by (zone, location).
BlobKey = tuple[str, str]


@dataclass(frozen=True)
class CheckpointFacts:
    asset: str
    global_step: int
    create_time: float
    zone: str
    size_bytes: int
    pinned: bool = False
    aliases: tuple[str, ...] = ()  # alias ids within the campaign: "latest", "best/bin", "mine"
    eval_count: int = 0
    best_skills: tuple[str, ...] = ()  # skills for which it holds the top accuracy
    files: tuple[tuple[BlobKey, int], ...] = ()
    # The curriculum skipped its trial for a newer checkpoint: it will never be evaluated, so "not yet
    # evaluated" protects nothing.
    superseded: bool = False


def keep_reasons(policy: RetentionPolicy, facts: CheckpointFacts, rank: int, now: float,
                 guard: bool = False) -> list[str]:
    reasons: list[str] = []
    for alias in facts.aliases:
        if alias == "latest":
            reasons.append("latest")
        elif alias.startswith("best/"):
            if policy.keep_best_per_skill or guard:
                reasons.append(alias)
        else:
            reasons.append(f"alias/{alias}")
    if policy.keep_best_per_skill:
        reasons += [f"best/{skill}" for skill in facts.best_skills if f"best/{skill}" not in reasons]
    if (policy.keep_pinned or guard) and facts.pinned:
        reasons.append("pinned")
    if policy.keep_latest > 0 and rank < policy.keep_latest:
        reasons.append("keep_latest")
    if policy.keep_newer_than_s > 0 and now - facts.create_time < policy.keep_newer_than_s:
        reasons.append("newer_than")
    if (policy.min_evals_before_delete > 0 and facts.eval_count < policy.min_evals_before_delete
            and not facts.superseded):
        reasons.append("too_few_evals")
    if guard and facts.eval_count == 0 and not facts.superseded and "too_few_evals" not in reasons:
        reasons.append("not_evaluated")
    return reasons


def plan_retention(
    policy: RetentionPolicy,
    checkpoints: list[CheckpointFacts],
    now: float,
    *,
    references: Mapping[BlobKey, frozenset[str]],
    zone_usage: Mapping[str, int],
    guard: bool = False,
) -> list[GcDecision]:
    """Decisions for every checkpoint, newest first.

    `references` maps each stored file to every live asset referencing it (any campaign, any kind), so
    reclaim_bytes counts only bytes no surviving asset needs, each blob once. `zone_usage` is the zone's
    stored bytes now, used for the byte caps. `guard` adds the loop's unconditional keep reasons.
    """
    ordered = sorted(checkpoints, key=lambda c: (-c.global_step, -c.create_time, c.asset))
    reasons = {c.asset: keep_reasons(policy, c, rank, now, guard) for rank, c in enumerate(ordered)}
    deleting: dict[str, list[str]] = {}
    for c in ordered:
        if not reasons[c.asset] and policy.keep_latest > 0:
            deleting[c.asset] = ["beyond_keep_latest"]

    doomed: set[str] = set(deleting)
    claimed: set[BlobKey] = set()
    reclaim: dict[str, int] = {}

    def account(facts: CheckpointFacts) -> int:
        freed = 0
        for key, size in facts.files:
            if key not in claimed and references.get(key, frozenset()) <= doomed:
                claimed.add(key)
                freed += size
        return freed

    # Oldest first, so with byte caps the freed bytes are attributed in deletion order.
    for c in reversed(ordered):
        if c.asset in deleting:
            reclaim[c.asset] = account(c)

    usage = dict(zone_usage)
    for c in ordered:
        if c.asset in reclaim:
            usage[c.zone] = usage.get(c.zone, 0) - reclaim[c.asset]
    for zone, cap in sorted(policy.zone_byte_caps.items()):
        for c in reversed(ordered):
            if usage.get(zone, 0) <= cap:
                break
            if c.zone != zone or c.asset in deleting or reasons[c.asset]:
                continue
            deleting[c.asset] = [f"zone_byte_cap:{zone}"]
            doomed.add(c.asset)
            reclaim[c.asset] = account(c)
            usage[zone] = usage.get(zone, 0) - reclaim[c.asset]

    decisions = []
    for c in ordered:
        if c.asset in deleting:
            decisions.append(GcDecision(c.asset, False, tuple(deleting[c.asset]), c.size_bytes,
                                        reclaim[c.asset], c.global_step))
        else:
            decisions.append(GcDecision(c.asset, True, tuple(reasons[c.asset] or ["no_delete_rule"]),
                                        c.size_bytes, 0, c.global_step))
    return decisions
