from __future__ import annotations

import asyncio
import os

import pytest

from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.vault.models import (
    Alias,
    AssetKind,
    AssetState,
    Eval,
    LedgerEvent,
    LedgerEventKind,
    MetricDirection,
)


def test_latest_follows_the_highest_step(domain, h):
    a5 = h.upload(domain, {"w": b"5"}, step=5)
    a9 = h.upload(domain, {"w": b"9"}, step=9)
    h.upload(domain, {"w": b"7"}, step=7)  # a late upload of an older step does not move latest
    alias, asset = domain.resolve_alias("campaigns/c1/aliases/latest")
    assert asset.name == a9.name and alias.system
    assert domain.get_asset("campaigns/c1/aliases/latest").name == a9.name
    assert a5.name != a9.name
    with pytest.raises(InvalidArgument, match="system-managed"):
        domain.set_alias(Alias("campaigns/c1/aliases/latest", a5.name))


def test_best_alias_moves_only_if_better(domain, h):
    a = h.upload(domain, {"w": b"a"}, step=1)
    b = h.upload(domain, {"w": b"b"}, step=2)
    best = "campaigns/c1/aliases/best/bin"
    _, moved = domain.set_alias(Alias(best, a.name, metric="accuracy", metric_value=0.8,
                                      direction=MetricDirection.MAXIMIZE), only_if_better=True)
    assert moved
    alias, moved = domain.set_alias(Alias(best, b.name, metric="accuracy", metric_value=0.7,
                                          direction=MetricDirection.MAXIMIZE), only_if_better=True)
    assert not moved and alias.asset == a.name
    alias, moved = domain.set_alias(Alias(best, b.name, metric="accuracy", metric_value=0.9,
                                          direction=MetricDirection.MAXIMIZE), only_if_better=True)
    assert moved and alias.asset == b.name and alias.metric_value == 0.9
    loss = "campaigns/c1/aliases/best/loss"
    domain.set_alias(Alias(loss, a.name, metric="loss", metric_value=1.0, direction=MetricDirection.MINIMIZE))
    _, moved = domain.set_alias(Alias(loss, b.name, metric="loss", metric_value=2.0,
                                      direction=MetricDirection.MINIMIZE), only_if_better=True)
    assert not moved
    moves = [e for e in domain.ledger_events() if e.kind == LedgerEventKind.ALIAS_MOVED and e.alias == best]
    assert len(moves) == 2


def test_alias_validation_names_fields(domain, h):
    a = h.upload(domain, {"w": b"a"}, step=1)
    cases = [
        (Alias("campaigns/c1/aliases/best/x", a.name), "alias.metric"),
        (Alias("campaigns/c1/aliases/best/x", a.name, metric="acc"), "alias.direction"),
        (Alias("campaigns/c1/aliasez/x", a.name), "alias.name"),
        (Alias("campaigns/c1/aliases/../x", a.name), "alias.name"),
        (Alias("campaigns/c2/aliases/mine", a.name), "alias.asset"),
        (Alias("campaigns/c1/aliases/mine", "assets/"), "alias.asset"),
    ]
    for alias, field in cases:
        with pytest.raises(InvalidArgument) as info:
            domain.set_alias(alias)
        assert info.value.field == field, alias
    with pytest.raises(NotFound):
        domain.set_alias(Alias("campaigns/c1/aliases/mine", "assets/nope"))


def test_user_alias_pin_and_delete_guard(domain, h):
    a = h.upload(domain, {"w": b"a"}, step=1)
    h.upload(domain, {"w": b"b"}, step=2)
    domain.set_alias(Alias("campaigns/c1/aliases/release", a.name))
    with pytest.raises(FailedPrecondition, match="campaigns/c1/aliases/release"):
        domain.delete_asset(a.name)
    domain.delete_alias("campaigns/c1/aliases/release")
    assert domain.set_pinned(a.name, True, "keep").pinned
    with pytest.raises(FailedPrecondition, match="pinned"):
        domain.delete_asset(a.name)
    domain.set_pinned(a.name, False)
    deleted = domain.delete_asset(a.name)
    assert deleted.state == AssetState.DELETED
    with pytest.raises(FailedPrecondition):
        domain.open_download(a.name, "w")


def test_evals_and_best_by_metric_query(domain, h):
    assets = [h.upload(domain, {"w": bytes([i])}, step=i * 10) for i in range(1, 6)]
    accuracies = [0.2, 0.9, 0.5, 0.9, 0.1]
    for asset, acc in zip(assets, accuracies, strict=True):
        domain.attach_eval(asset.name, Eval(skill="bin", level=1, accuracy=acc, correct=int(acc * 10), total=10))
    domain.attach_eval(assets[0].name, Eval(skill="bin", level=2, accuracy=0.95, correct=19, total=20))
    domain.attach_eval(assets[2].name, Eval(skill="syllo", level=1, accuracy=0.3, correct=3, total=10))
    rows, _ = domain.query_checkpoints(skill="bin", order_by="accuracy", level=1)
    assert [a.lineage.global_step for a, _ in rows] == [40, 20, 30, 10, 50]  # ties: newer step first
    assert rows[0][1].accuracy == 0.9
    rows, _ = domain.query_checkpoints(skill="bin", order_by="accuracy")
    assert rows[0][0].name == assets[0].name and rows[0][1].level == 2
    rows, _ = domain.query_checkpoints(skill="syllo")
    assert [a.name for a, _ in rows] == [assets[2].name]
    rows, _ = domain.query_checkpoints(campaign="c1", min_global_step=30)
    assert [a.lineage.global_step for a, _ in rows] == [50, 40, 30]
    assert domain.get_asset(assets[0].name).eval_count == 2
    with pytest.raises(InvalidArgument) as info:
        domain.query_checkpoints(order_by="accuracy")
    assert info.value.field == "skill"
    with pytest.raises(InvalidArgument) as info:
        domain.attach_eval(assets[0].name, Eval(skill="bin", accuracy=1.5))
    assert info.value.field == "eval.accuracy"


def test_pagination_walks_every_item_once(domain, h):
    made = {h.upload(domain, {"w": bytes([i]) * 3}, step=i).name for i in range(23)}
    seen, token, pages = [], "", 0
    while True:
        page, token, total = domain.list_assets(page_size_=5, page_token=token, campaign="c1")
        seen += [a.name for a in page]
        pages += 1
        assert total == 23
        if not token:
            break
    assert pages == 5 and len(seen) == 23 and set(seen) == made
    seen, token = [], ""
    while True:
        page, token = domain.query_checkpoints(page_size_=4, page_token=token)
        seen += [a.lineage.global_step for a, _ in page]
        if not token:
            break
    assert seen == list(range(22, -1, -1))
    _, token, _ = domain.list_assets(page_size_=5, campaign="c1")
    with pytest.raises(InvalidArgument) as info:
        domain.list_assets(page_size_=5, page_token=token, campaign="c2")
    assert info.value.field == "page_token"
    with pytest.raises(InvalidArgument) as info:
        domain.list_assets(page_token="garbage!")
    assert info.value.field == "page_token"
    with pytest.raises(InvalidArgument) as info:
        domain.list_assets(page_size_=-1)
    assert info.value.field == "page_size"


def test_list_filters_by_kind_label_and_hero(domain, h):
    h.upload(domain, {"d": b"d"}, kind=AssetKind.DATASET, labels={"split": "train"})
    h.upload(domain, {"w": b"w"}, step=1, hero="heroes/other")
    assert [a.kind for a in domain.list_assets(kind=AssetKind.DATASET)[0]] == [AssetKind.DATASET]
    assert len(domain.list_assets(labels={"split": "train"})[0]) == 1
    assert len(domain.list_assets(hero="other")[0]) == 1
    updated = domain.update_labels(domain.list_assets(hero="other")[0][0].name, {"k": "v"}, [])
    assert updated.labels == {"k": "v"}


def test_verify_detects_corruption_and_downloads_refuse(domain, h, tmp_path):
    data = os.urandom(5000)
    a = h.upload(domain, {"w": data}, step=1)
    b = h.upload(domain, {"w": data, "x": b"x"}, step=2)  # shares the blob
    assert domain.verify_asset(a.name).ok
    blob = next(p for p in (tmp_path / "hot" / "blobs").rglob("*") if p.is_file() and p.stat().st_size == 5000)
    blob.write_bytes(b"\0" + data[1:])
    result = domain.verify_asset(a.name)
    assert not result.ok and result.asset.state == AssetState.CORRUPT
    assert result.files[0].problem == "sha256 mismatch"
    assert domain.get_asset(b.name).state == AssetState.CORRUPT  # same blob, same damage
    with pytest.raises(FailedPrecondition, match="CORRUPT"):
        domain.open_download(a.name, "w")
    corrupt = [e for e in domain.ledger_events() if e.kind == LedgerEventKind.CORRUPT]
    assert {e.asset for e in corrupt} == {a.name, b.name}
    blob.write_bytes(data)  # repaired from a backup: verify clears it
    assert domain.verify_asset(a.name).asset.state == AssetState.ACTIVE


def test_ledger_is_append_only_with_increasing_sequence(domain, h):
    h.upload(domain, {"w": b"1"}, step=1)
    domain.append_event(LedgerEvent(kind=LedgerEventKind.LEVEL_UP, campaign="c1", message="bin 1->2"))
    events = domain.ledger_events()
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    with pytest.raises(InvalidArgument) as info:
        domain.append_event(LedgerEvent(kind=LedgerEventKind.DELETED))
    assert info.value.field == "event.kind"
    import sqlite3

    with pytest.raises(sqlite3.IntegrityError), domain._catalog.transaction() as db:
        db.execute("DELETE FROM ledger")


async def test_notifier_wakes_async_waiter_from_another_thread(domain, h):
    start = domain.notifier.latest
    waiter = asyncio.create_task(domain.notifier.wait_beyond(start, timeout=10))
    await asyncio.sleep(0.01)
    await asyncio.to_thread(h.upload, domain, {"w": b"z"}, step=3)
    assert await waiter > start


def test_stats_are_exact_and_dedup_counted_once(domain, h, tmp_path):
    shared = os.urandom(3000)
    h.upload(domain, {"w": shared, "a": b"aa"}, step=1)
    h.upload(domain, {"w": shared, "b": b"bbb"}, step=2, campaign="c2")
    h.upload(domain, {"d": b"dddd"}, kind=AssetKind.DATASET, zone="cold", campaign="")
    stats = domain.stats()
    assert stats.total.assets == 3 and stats.total.files == 5
    assert stats.total.logical_bytes == 3002 + 3003 + 4
    assert stats.total.stored_bytes == 3000 + 2 + 3 + 4
    on_disk = sum(p.stat().st_size for z in ("hot", "cold") for p in (tmp_path / z / "blobs").rglob("*")
                  if p.is_file())
    assert on_disk == stats.total.stored_bytes
    by_zone = {b.key: b.stored_bytes for b in stats.by_zone}
    assert by_zone == {"hot": 3005, "cold": 4}
    assert {b.key: b.assets for b in stats.by_kind} == {"checkpoint": 2, "dataset": 1}
    assert {b.key: b.stored_bytes for b in stats.by_campaign} == {"": 4, "campaigns/c1": 3002,
                                                                   "campaigns/c2": 3003}
