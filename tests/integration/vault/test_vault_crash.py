"""kill -9 of a real vault process mid-upload and mid-GC; then restart and check the catalog is whole."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import grpc
import pytest

from realm.vault.v1 import vault_pb2 as pb

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]


def blob_bytes(zone: Path) -> int:
    return sum(p.stat().st_size for p in (zone / "blobs").rglob("*") if p.is_file())


def assert_catalog_whole(vault, zone: Path) -> None:
    """No partial asset is visible, every referenced blob is intact, stats equal what is on disk."""
    assets = vault.ListAssets(pb.ListAssetsRequest(page_size=1000, show_deleted=True)).assets
    for asset in assets:
        assert asset.state in (pb.ASSET_STATE_ACTIVE, pb.ASSET_STATE_DELETING, pb.ASSET_STATE_DELETED)
        if asset.state == pb.ASSET_STATE_ACTIVE:
            assert vault.VerifyAsset(pb.VerifyAssetRequest(name=asset.name)).ok, asset.name
    stats = vault.GetStats(pb.GetStatsRequest())
    assert stats.total.stored_bytes == blob_bytes(zone)


def test_kill_during_upload_leaves_nothing_partial_and_resumes(vault_process, tmp_path):
    zone = tmp_path / "zones" / "hot"
    server = vault_process(sync_every_bytes=1024 * 1024)
    vault = server.start()
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "w.bin").write_bytes(os.urandom(300_000))
    committed = vault.push(tmp_path / "first", "checkpoint", lineage={"campaign": "c1", "global_step": 1})

    data = os.urandom(24 * 1024 * 1024)
    src = tmp_path / "big"
    src.mkdir()
    (src / "model.bin").write_bytes(data)
    declared = [pb.AssetFile(path="model.bin", size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())]
    upload = vault.CreateUpload(pb.CreateUploadRequest(kind=pb.ASSET_KIND_CHECKPOINT, files=declared,
                                                       lineage=pb.Lineage(campaign="c1", global_step=2),
                                                       request_id="crash-upload")).upload

    def slow_stream():
        yield pb.WriteUploadRequest(header=pb.WriteUploadHeader(upload=upload.name, path="model.bin", offset=0))
        for start in range(0, len(data), 256 * 1024):
            time.sleep(0.02)
            yield pb.WriteUploadRequest(chunk=data[start:start + 256 * 1024])

    errors = []
    sender = threading.Thread(target=lambda: _capture(errors, lambda: vault.WriteUpload(slow_stream())))
    sender.start()
    deadline = time.monotonic() + 30
    while vault.GetUpload(pb.GetUploadRequest(name=upload.name)).upload.files[0].received_bytes < 3 * 1024 * 1024:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server.kill9()
    sender.join(30)
    assert errors, "the stream should have broken"

    vault = server.start()
    with pytest.raises(grpc.RpcError) as info:
        vault.GetAsset(pb.GetAssetRequest(name=upload.asset))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert [a.name for a in vault.ListAssets(pb.ListAssetsRequest()).assets] == [committed.name]
    assert_catalog_whole(vault, zone)
    received = vault.GetUpload(pb.GetUploadRequest(name=upload.name)).upload.files[0].received_bytes
    assert 3 * 1024 * 1024 <= received < len(data)

    sent = []
    asset = vault.push(src, "checkpoint", lineage={"campaign": "c1", "global_step": 2}, request_id="crash-upload",
                       progress=lambda done, total: sent.append(done))
    assert sent[0] == received and asset.name == upload.asset
    out = vault.pull(asset.name, tmp_path / "out")
    assert (out / "model.bin").read_bytes() == data
    assert_catalog_whole(vault, zone)
    assert vault.GetStats(pb.GetStatsRequest()).total.stored_bytes == 300_000 + len(data)


def test_kill_during_gc_completes_on_rerun(vault_process, tmp_path):
    zone = tmp_path / "zones" / "hot"
    server = vault_process(gc_pause_between_deletions_s=0.4)
    vault = server.start()
    shared = os.urandom(50_000)
    for step in range(1, 9):
        d = tmp_path / f"s{step}"
        d.mkdir()
        (d / "w.bin").write_bytes(os.urandom(100_000))
        (d / "tok.json").write_bytes(shared)
        vault.push(d, "checkpoint", lineage={"campaign": "c1", "global_step": step})
    vault.SetRetentionPolicy(pb.SetRetentionPolicyRequest(policy=pb.RetentionPolicy(
        campaign="campaigns/c1", keep_latest=2, enabled=True)))

    errors = []
    gc = threading.Thread(target=lambda: _capture(errors, lambda: vault.RunGc(pb.RunGcRequest())))
    gc.start()
    deadline = time.monotonic() + 30
    while not [e for e in vault.ListLedgerEvents(pb.ListLedgerEventsRequest(page_size=1000)).events
               if e.kind == pb.LEDGER_EVENT_KIND_DELETED]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server.kill9()
    gc.join(30)
    assert errors, "GC should have been interrupted"

    vault = server.start()
    states = [a.state for a in vault.ListAssets(pb.ListAssetsRequest(show_deleted=True)).assets]
    assert states.count(pb.ASSET_STATE_DELETING) >= 1 and states.count(pb.ASSET_STATE_ACTIVE) == 2
    assert_catalog_whole(vault, zone)
    result = vault.RunGc(pb.RunGcRequest())
    assert result.resumed_deletions == states.count(pb.ASSET_STATE_DELETING) and result.deleted_assets == 0
    final = vault.ListAssets(pb.ListAssetsRequest(show_deleted=True)).assets
    assert sorted(a.lineage.global_step for a in final if a.state == pb.ASSET_STATE_ACTIVE) == [7, 8]
    assert sum(a.state == pb.ASSET_STATE_DELETED for a in final) == 6
    assert_catalog_whole(vault, zone)
    assert vault.GetStats(pb.GetStatsRequest()).total.stored_bytes == 2 * 100_000 + 50_000
    deleted = [e for e in vault.ListLedgerEvents(pb.ListLedgerEventsRequest(page_size=1000)).events
               if e.kind == pb.LEDGER_EVENT_KIND_DELETED]
    assert len(deleted) == len({e.asset for e in deleted}) == 6  # each deletion recorded exactly once


def _capture(errors, fn):
    try:
        fn()
    except Exception as exc:  # the broken call's error is what the test expects
        errors.append(exc)
