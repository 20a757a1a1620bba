"""Retention in the loop: the guard (best/latest/pinned/not-evaluated), superseded checkpoints, the built-in
default policy, and the background run after each checkpoint registration."""

from __future__ import annotations

from services.vault.loop_retention import RetentionAfterRegistration
from services.vault.models import Alias, AssetState, Eval, MetricDirection, RetentionPolicy
from services.vault.retention import CheckpointFacts, plan_retention


def ckpt(step: int, **kw) -> CheckpointFacts:
    return CheckpointFacts(asset=f"assets/s{step}", global_step=step, create_time=step, zone="hot",
                           size_bytes=100, files=((("hot", f"blob{step}"), 100),), **kw)


def plan(policy: RetentionPolicy, cps: list[CheckpointFacts], guard: bool) -> dict[int, tuple[str, ...]]:
    refs = {key: frozenset({c.asset}) for c in cps for key, _ in c.files}
    decisions = plan_retention(policy, cps, 10_000.0, references=refs, zone_usage={}, guard=guard)
    return {d.global_step: d.reasons if d.keep else tuple("-" + r for r in d.reasons) for d in decisions}


def test_guard_protects_best_pinned_and_unevaluated_whatever_the_policy():
    policy = RetentionPolicy("campaigns/c", keep_latest=1, enabled=True)  # no keep_best, no keep_pinned
    cps = [ckpt(1, aliases=("best/bin",), eval_count=1), ckpt(2, pinned=True, eval_count=1), ckpt(3),
           ckpt(4, eval_count=1), ckpt(5, eval_count=1, aliases=("latest",))]
    assert plan(policy, cps, guard=False) == {5: ("latest", "keep_latest"), 4: ("-beyond_keep_latest",),
                                              3: ("-beyond_keep_latest",), 2: ("-beyond_keep_latest",),
                                              1: ("-beyond_keep_latest",)}
    assert plan(policy, cps, guard=True) == {5: ("latest", "keep_latest"), 4: ("-beyond_keep_latest",),
                                             3: ("not_evaluated",), 2: ("pinned",), 1: ("best/bin",)}


def test_superseded_checkpoints_are_not_protected_by_missing_evals():
    policy = RetentionPolicy("campaigns/c", keep_latest=1, min_evals_before_delete=1, enabled=True)
    cps = [ckpt(1, superseded=True), ckpt(2), ckpt(3, superseded=True), ckpt(4, eval_count=1)]
    for guard in (False, True):
        reasons = plan(policy, cps, guard)
        assert reasons[1] == ("-beyond_keep_latest",) and reasons[3] == ("-beyond_keep_latest",)
        assert reasons[2] == ("too_few_evals",) and reasons[4] == ("keep_latest",)
    # the newest is kept by keep_latest even when superseded
    assert plan(policy, [ckpt(1, eval_count=1), ckpt(2, superseded=True)], True)[2] == ("keep_latest",)


def _register(domain, h, step: int, payload: bytes = b""):
    return h.upload(domain, {"model.safetensors": payload or f"weights {step}".encode() * 50}, step=step)


def test_loop_default_policy_keeps_three_latest_best_and_unevaluated(domain, h):
    assets = [_register(domain, h, step) for step in range(1, 8)]
    for a in assets[:6]:
        domain.attach_eval(a.name, Eval(skill="bin", level=1, accuracy=0.1 * a.lineage.global_step))
    domain.set_alias(Alias("campaigns/c1/aliases/best/bin", assets[1].name, metric="score", metric_value=5.0,
                           direction=MetricDirection.MAXIMIZE))
    domain.update_labels(assets[2].name, {"trial": "superseded"}, [])  # evaluated anyway: the eval counts
    result = domain.retain_after_registration("campaigns/c1")
    reasons = {d.global_step: d.reasons for d in result.decisions}
    # steps 7 (latest, unevaluated), 6, 5 (keep_latest), 2 (best/bin alias), 6 also the top accuracy
    assert reasons[7][0] == "latest" and "not_evaluated" not in reasons[7]  # too_few_evals already says it
    assert "too_few_evals" in reasons[7]
    assert reasons[2] == ("best/bin",)
    assert reasons[1] == ("beyond_keep_latest",) and reasons[3] == ("beyond_keep_latest",)
    assert reasons[4] == ("beyond_keep_latest",)
    states = {a.lineage.global_step: domain.get_asset(a.name).state for a in assets}
    assert [s for s, st in sorted(states.items()) if st == AssetState.DELETED] == [1, 3, 4]


def test_loop_uses_the_campaign_policy_when_one_is_set(domain, h):
    domain.set_policy(RetentionPolicy("campaigns/c1", keep_latest=0, enabled=True))  # deletes nothing
    assets = [_register(domain, h, step) for step in range(1, 6)]
    for a in assets:
        domain.attach_eval(a.name, Eval(skill="bin", level=1, accuracy=0.5))
    assert domain.retain_after_registration("campaigns/c1").deleted_assets == 0
    domain.set_policy(RetentionPolicy("campaigns/c1", enabled=False))
    assert domain.retain_after_registration("campaigns/c1").decisions == ()


def test_background_run_after_each_registration(domain, h):
    worker = RetentionAfterRegistration(domain)
    worker.start()
    try:
        evaluated = []
        for step in range(1, 6):
            asset = _register(domain, h, step)
            domain.attach_eval(asset.name, Eval(skill="bin", level=1, accuracy=0.9 if step == 1 else step / 10))
            evaluated.append(asset)
        superseded = _register(domain, h, 6)
        domain.update_labels(superseded.name, {"trial": "superseded"}, [])
        unevaluated = _register(domain, h, 7)
        newest = [_register(domain, h, step) for step in (8, 9)]
        assert worker.wait_idle(20)
        state = {a.lineage.global_step: domain.get_asset(a.name).state
                 for a in [*evaluated, superseded, unevaluated, *newest]}
        # The newest three are 9, 8, 7 (7 also unevaluated); 1 has the top bin accuracy; the superseded 6
        # and the evaluated 2-5 go.
        assert {s for s, st in state.items() if st == AssetState.DELETED} == {2, 3, 4, 5, 6}
        assert state[1] == state[7] == state[8] == state[9] == AssetState.ACTIVE
        assert worker.runs >= 1
    finally:
        worker.close()
