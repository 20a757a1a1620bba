from __future__ import annotations

import os

import pytest

from services.vault.models import (
    Alias,
    AssetKind,
    AssetState,
    Eval,
    LedgerEventKind,
    MetricDirection,
    RetentionPolicy,
)
from services.vault.retention import CheckpointFacts, plan_retention

NOW = 10_000.0


def ckpt(step: int, **kw) -> CheckpointFacts:
    size = kw.pop("size", 100)
    return CheckpointFacts(asset=f"assets/s{step}", global_step=step, create_time=kw.pop("age", 0) or step,
                           zone="hot", size_bytes=size, files=((("hot", f"blob{step}"), size),), **kw)


def refs(cps):
    return {key: frozenset({c.asset}) for c in cps for key, _ in c.files}


CASES = [
    # (policy kwargs, checkpoints, zone usage, expected {step: reasons})
    (dict(keep_latest=2), [ckpt(1), ckpt(2), ckpt(3), ckpt(4)], {},
     {4: ("keep_latest",), 3: ("keep_latest",), 2: ("-beyond_keep_latest",), 1: ("-beyond_keep_latest",)}),
    (dict(keep_latest=1), [ckpt(1, aliases=("latest",)), ckpt(2)], {},
     {2: ("keep_latest",), 1: ("latest",)}),
    (dict(keep_latest=1, keep_pinned=True), [ckpt(1, pinned=True), ckpt(2), ckpt(3)], {},
     {3: ("keep_latest",), 2: ("-beyond_keep_latest",), 1: ("pinned",)}),
    (dict(keep_latest=1, keep_pinned=False), [ckpt(1, pinned=True), ckpt(2)], {},
     {2: ("keep_latest",), 1: ("-beyond_keep_latest",)}),
    (dict(keep_latest=1, keep_best_per_skill=True), [ckpt(1, best_skills=("bin",)), ckpt(2, aliases=("best/syl",)),
                                                     ckpt(3)], {},
     {3: ("keep_latest",), 2: ("best/syl",), 1: ("best/bin",)}),
    (dict(keep_latest=1, keep_best_per_skill=False), [ckpt(1, aliases=("best/syl",)), ckpt(2)], {},
     {2: ("keep_latest",), 1: ("-beyond_keep_latest",)}),
    (dict(keep_latest=1), [ckpt(1, aliases=("release",)), ckpt(2)], {},
     {2: ("keep_latest",), 1: ("alias/release",)}),
    (dict(keep_latest=1, min_evals_before_delete=2), [ckpt(1, eval_count=1), ckpt(2, eval_count=2), ckpt(3)], {},
     {3: ("keep_latest", "too_few_evals"), 2: ("-beyond_keep_latest",), 1: ("too_few_evals",)}),
    (dict(keep_latest=1, keep_newer_than_s=100), [ckpt(1, age=NOW - 50), ckpt(2, age=NOW - 500), ckpt(3)], {},
     {3: ("keep_latest",), 2: ("-beyond_keep_latest",), 1: ("newer_than",)}),
    (dict(), [ckpt(1), ckpt(2)], {}, {2: ("no_delete_rule",), 1: ("no_delete_rule",)}),
    # byte cap: 4 x 100 bytes in a zone capped at 250 -> the two oldest unprotected go
    (dict(zone_byte_caps={"hot": 250}), [ckpt(1), ckpt(2), ckpt(3), ckpt(4, aliases=("latest",))], {"hot": 400},
     {4: ("latest",), 3: ("no_delete_rule",), 2: ("-zone_byte_cap:hot",), 1: ("-zone_byte_cap:hot",)}),
    (dict(zone_byte_caps={"hot": 250}, keep_pinned=True), [ckpt(1, pinned=True), ckpt(2), ckpt(3)], {"hot": 300},
     {3: ("no_delete_rule",), 2: ("-zone_byte_cap:hot",), 1: ("pinned",)}),
    (dict(zone_byte_caps={"cold": 0}), [ckpt(1)], {"hot": 100}, {1: ("no_delete_rule",)}),
]


@pytest.mark.parametrize(("policy", "checkpoints", "usage", "expected"), CASES)
def test_policy_keeps_exactly_what_it_says(policy, checkpoints, usage, expected):
    decisions = plan_retention(RetentionPolicy("campaigns/c", enabled=True, **policy), checkpoints, NOW,
                               references=refs(checkpoints), zone_usage=usage)
    got = {d.global_step: tuple(("" if d.keep else "-") + r for r in d.reasons) for d in decisions}
    assert got == expected
    for d in decisions:
        assert d.reclaim_bytes == (0 if d.keep else 100)


def test_shared_blobs_reclaimed_once_and_only_when_unreferenced():
    shared = (("hot", "shared"), 1000)
    a = CheckpointFacts("assets/a", 1, 1, "hot", 1100, files=(shared, (("hot", "a"), 100)))
    b = CheckpointFacts("assets/b", 2, 2, "hot", 1100, files=(shared, (("hot", "b"), 100)))
    c = CheckpointFacts("assets/c", 3, 3, "hot", 1100, files=(shared, (("hot", "c"), 100)))
    references = {("hot", "shared"): frozenset({"assets/a", "assets/b", "assets/c"}),
                  ("hot", "a"): frozenset({"assets/a"}), ("hot", "b"): frozenset({"assets/b"}),
                  ("hot", "c"): frozenset({"assets/c"})}
    plan = plan_retention(RetentionPolicy("campaigns/c", keep_latest=1, enabled=True), [a, b, c], NOW,
                          references=references, zone_usage={})
    assert {d.asset: d.reclaim_bytes for d in plan} == {"assets/c": 0, "assets/b": 100, "assets/a": 100}
    references[("hot", "shared")] = frozenset({"assets/a", "assets/b"})  # c no longer shares it
    plan = plan_retention(RetentionPolicy("campaigns/c", keep_latest=1, enabled=True), [a, b, c], NOW,
                          references=references, zone_usage={})
    assert sum(d.reclaim_bytes for d in plan) == 1200


def make_campaign(domain, h, n=6):
    shared = os.urandom(2000)
    assets = [h.upload(domain, {"w": os.urandom(1000), "tok": shared}, step=i) for i in range(1, n + 1)]
    return assets


def test_gc_dry_run_then_real_run(domain, h, tmp_path):
    assets = make_campaign(domain, h)
    domain.set_pinned(assets[0].name, True)
    domain.attach_eval(assets[1].name, Eval(skill="bin", accuracy=0.9, correct=9, total=10))
    domain.set_alias(Alias("campaigns/c1/aliases/best/bin", assets[1].name, metric="accuracy", metric_value=0.9,
                           direction=MetricDirection.MAXIMIZE))
    domain.set_policy(RetentionPolicy("campaigns/c1", keep_latest=2, keep_best_per_skill=True, keep_pinned=True,
                                      enabled=True))
    before = domain.stats().total.stored_bytes
    plan = domain.run_gc(dry_run=True)
    reasons = {d.global_step: d.reasons for d in plan.decisions}
    assert reasons == {6: ("latest", "keep_latest"), 5: ("keep_latest",), 4: ("beyond_keep_latest",),
                       3: ("beyond_keep_latest",), 2: ("best/bin",), 1: ("pinned",)}
    assert plan.reclaimed_bytes == 2000 and domain.stats().total.stored_bytes == before
    result = domain.run_gc()
    assert result.deleted_assets == 2 and result.reclaimed_bytes == 2000
    assert domain.stats().total.stored_bytes == before - 2000
    states = {a.lineage.global_step: domain.get_asset(a.name).state for a in assets}
    assert states == {1: AssetState.ACTIVE, 2: AssetState.ACTIVE, 3: AssetState.DELETED, 4: AssetState.DELETED,
                      5: AssetState.ACTIVE, 6: AssetState.ACTIVE}
    on_disk = sum(p.stat().st_size for p in (tmp_path / "hot" / "blobs").rglob("*") if p.is_file())
    assert on_disk == domain.stats().total.stored_bytes
    again = domain.run_gc()
    assert again.deleted_assets == 0 and again.reclaimed_bytes == 0


def test_gc_interrupted_after_phase_one_completes_on_rerun(tmp_path, h, monkeypatch):
    domain = h.make_domain(tmp_path)
    make_campaign(domain, h)
    domain.set_policy(RetentionPolicy("campaigns/-", keep_latest=2, enabled=True))

    def crash(pk):
        raise SystemExit("killed")

    monkeypatch.setattr(domain._deleter, "finish", crash)
    with pytest.raises(SystemExit):
        domain.run_gc()
    domain.close()
    monkeypatch.undo()
    restarted = h.make_domain(tmp_path)
    deleting = [a for a in restarted.list_assets()[0] if a.state == AssetState.DELETING]
    assert len(deleting) == 4
    result = restarted.run_gc()
    assert result.resumed_deletions == 4 and result.deleted_assets == 0
    assert result.reclaimed_bytes == 4000
    assert not [a for a in restarted.list_assets()[0] if a.state != AssetState.ACTIVE]
    kinds = [e.kind for e in restarted.ledger_events()]
    assert kinds.count(LedgerEventKind.DELETING) == 4 and kinds.count(LedgerEventKind.DELETED) == 4
    on_disk = sum(p.stat().st_size for p in (tmp_path / "hot" / "blobs").rglob("*") if p.is_file())
    assert on_disk == restarted.stats().total.stored_bytes == 2000 + 2 * 1000
    restarted.close()


def test_policy_validation(domain):
    from services.kit.errors import InvalidArgument, NotFound

    for policy, field in [
        (RetentionPolicy("", enabled=True), "policy.campaign"),
        (RetentionPolicy("campaigns/c1", keep_latest=-1), "policy.keep_latest"),
        (RetentionPolicy("campaigns/c1", zone_byte_caps={"nope": 1}), "policy.zone_byte_caps"),
        (RetentionPolicy("campaigns/c1", zone_byte_caps={"hot": -1}), "policy.zone_byte_caps"),
    ]:
        with pytest.raises(InvalidArgument) as info:
            domain.set_policy(policy)
        assert info.value.field == field
    with pytest.raises(NotFound):
        domain.get_policy("campaigns/zzz")
    domain.set_policy(RetentionPolicy("c1", keep_latest=3, enabled=True))
    assert domain.get_policy("campaigns/c1").keep_latest == 3


def test_full_gc_expires_abandoned_uploads_and_sweeps_orphans(tmp_path, h, clock):
    domain = h.make_domain(tmp_path, clock, upload_ttl_s=3600)
    kept = h.upload(domain, {"w": b"keep me"}, step=1)
    abandoned = domain.create_upload(kind=AssetKind.DATASET, files=h.declare({"a": b"half" * 1000})).name
    writer = domain.open_writer(abandoned, "a", 0)
    writer.write(b"half")
    writer.close()
    orphan = tmp_path / "hot" / "blobs" / "ff" / "ff" / ("f" * 64)  # as left by a crash mid-commit
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"orphan!")
    clock.now += 7200
    domain.run_gc()
    with pytest.raises(Exception, match="aborted"):
        domain.commit_upload(abandoned)
    assert not orphan.exists()
    assert not any((tmp_path / "hot" / ".staging").iterdir())
    assert domain.verify_asset(kept.name).ok
    on_disk = sum(p.stat().st_size for p in (tmp_path / "hot" / "blobs").rglob("*") if p.is_file())
    assert on_disk == domain.stats().total.stored_bytes == 7
    notes = [e for e in domain.ledger_events() if e.kind == LedgerEventKind.NOTE]
    assert notes and notes[-1].attributes["orphan_files"] == "1"
    domain.close()
