"""16 clients pushing, querying and pulling at once against one vault."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from realm.vault.v1 import vault_pb2 as pb

pytestmark = pytest.mark.integration


def test_sixteen_clients_at_once(realm, tmp_path, zone_root):
    shared = os.urandom(200_000)

    def client(i: int) -> tuple[str, bytes]:
        src = tmp_path / f"c{i}"
        src.mkdir()
        own = os.urandom(300_000 + i)
        (src / "own.bin").write_bytes(own)
        (src / "shared.bin").write_bytes(shared)
        asset = realm.vault.push(src, "checkpoint", lineage={"campaign": f"c{i % 4}", "global_step": i})
        realm.vault.ListAssets(pb.ListAssetsRequest(page_size=5))
        realm.vault.QueryCheckpoints(pb.QueryCheckpointsRequest(campaign=f"c{i % 4}"))
        realm.vault.GetStats(pb.GetStatsRequest())
        out = realm.vault.pull(asset.name, tmp_path / f"out{i}")
        assert (out / "own.bin").read_bytes() == own and (out / "shared.bin").read_bytes() == shared
        return asset.name, own

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(client, range(16)))
    assert len({name for name, _ in results}) == 16
    listed = realm.vault.ListAssets(pb.ListAssetsRequest(page_size=100))
    assert listed.total_size == 16
    stats = realm.vault.GetStats(pb.GetStatsRequest())
    expected_stored = 200_000 + sum(300_000 + i for i in range(16))
    on_disk = sum(p.stat().st_size for p in (zone_root / "blobs").rglob("*") if p.is_file())
    assert stats.total.stored_bytes == on_disk == expected_stored
    assert stats.total.logical_bytes == expected_stored + 15 * 200_000
    events = realm.vault.ListLedgerEvents(pb.ListLedgerEventsRequest(page_size=1000)).events
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert sum(e.kind == pb.LEDGER_EVENT_KIND_REGISTERED for e in events) == 16
    for c in range(4):
        resolved = realm.vault.ResolveAlias(pb.ResolveAliasRequest(name=f"campaigns/c{c}/aliases/latest"))
        assert resolved.asset.lineage.global_step == 12 + c
