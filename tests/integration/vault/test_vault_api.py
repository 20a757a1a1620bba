"""The vault over real gRPC on loopback: round trips, resume, dedup, verify, aliases, ledger, errors."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import grpc
import pytest

from fixtures.kit import READ_TOKEN
from realm.vault.v1 import vault_pb2 as pb

pytestmark = pytest.mark.integration

LINEAGE = {"hero": "heroes/h1", "campaign": "campaigns/c1"}


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def blob_bytes(zone_root: Path) -> int:
    return sum(p.stat().st_size for p in (zone_root / "blobs").rglob("*") if p.is_file())


def test_push_pull_round_trip_is_byte_identical(realm, tree, tmp_path, checkpoint_files, zone_root):
    src = tree(tmp_path / "src", checkpoint_files)
    seen = []
    asset = realm.vault.push(src, "checkpoint", lineage={**LINEAGE, "global_step": 100},
                             labels={"run": "a"}, progress=lambda done, total: seen.append((done, total)))
    assert asset.state == pb.ASSET_STATE_ACTIVE and asset.lineage.global_step == 100
    assert seen[-1] == (asset.size_bytes, asset.size_bytes)
    out = realm.vault.pull("campaigns/c1/aliases/latest", tmp_path / "out")
    assert read_tree(out) == checkpoint_files
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no staging left behind
    with pytest.raises(FileExistsError):
        realm.vault.pull(asset.name, out)
    # download from an offset
    chunks = list(realm.vault.DownloadFile(pb.DownloadFileRequest(asset=asset.name, path="model.safetensors",
                                                                  offset=1000, chunk_size=65536)))
    assert chunks[0].sha256 == hashlib.sha256(checkpoint_files["model.safetensors"]).hexdigest()
    assert chunks[0].offset == 1000 and b"".join(c.chunk for c in chunks) == checkpoint_files["model.safetensors"][1000:]


def test_resume_after_broken_stream(vault_process, tree, tmp_path):
    # A separate process: a broken client stream must not be able to take the test session down with it.
    vault = vault_process().start()
    data = bytes(range(256)) * 16384  # 4 MiB
    src = tree(tmp_path / "src", {"big.bin": data})
    declared = [pb.AssetFile(path="big.bin", size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())]
    upload = vault.CreateUpload(pb.CreateUploadRequest(kind=pb.ASSET_KIND_DATASET, files=declared,
                                                             request_id="resume-1")).upload

    class Broken(Exception):
        pass

    def breaking_stream():
        yield pb.WriteUploadRequest(header=pb.WriteUploadHeader(upload=upload.name, path="big.bin", offset=0))
        for start in range(0, 1536 * 1024, 512 * 1024):
            yield pb.WriteUploadRequest(chunk=data[start:start + 512 * 1024])
        threading.Event().wait(0.5)  # the bytes reach the server ...
        raise Broken  # ... then the client dies mid-stream

    with pytest.raises((grpc.RpcError, Broken)):
        vault.WriteUpload(breaking_stream())
    received = 0
    for _ in range(50):  # the server records the bytes when it sees the stream end
        received = vault.GetUpload(pb.GetUploadRequest(name=upload.name)).upload.files[0].received_bytes
        if received:
            break
        threading.Event().wait(0.05)
    assert 0 < received <= 1536 * 1024
    with pytest.raises(grpc.RpcError) as info:
        vault.GetAsset(pb.GetAssetRequest(name=upload.asset))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND  # nothing visible before commit
    progress = []
    asset = vault.push(src, "dataset", request_id="resume-1", progress=lambda d, t: progress.append(d))
    assert progress[0] == received  # resumed, did not resend
    assert asset.name == upload.asset
    assert read_tree(vault.pull(asset.name, tmp_path / "out")) == {"big.bin": data}


def test_dedup_second_upload_adds_no_blob_bytes(realm, tree, tmp_path, checkpoint_files, zone_root):
    src = tree(tmp_path / "src", checkpoint_files)
    first = realm.vault.push(src, "checkpoint", lineage={**LINEAGE, "global_step": 1})
    stored = blob_bytes(zone_root)
    sent = []
    second = realm.vault.push(src, "checkpoint", lineage={**LINEAGE, "global_step": 2},
                              progress=lambda d, t: sent.append(d))
    assert first.name != second.name and sent[0] == second.size_bytes  # nothing left to send
    assert blob_bytes(zone_root) == stored
    stats = realm.vault.GetStats(pb.GetStatsRequest())
    assert stats.total.stored_bytes == stored and stats.total.logical_bytes == 2 * first.size_bytes


def test_verify_detects_corrupt_blob_and_downloads_refuse(realm, tree, tmp_path, zone_root):
    data = b"weights" * 1000
    asset = realm.vault.push(tree(tmp_path / "src", {"w.bin": data}), "checkpoint",
                             lineage={**LINEAGE, "global_step": 1})
    assert realm.vault.VerifyAsset(pb.VerifyAssetRequest(name=asset.name)).ok
    blob = zone_root / "blobs" / asset.files[0].sha256[:2] / asset.files[0].sha256[2:4] / asset.files[0].sha256
    blob.write_bytes(b"X" + data[1:])
    result = realm.vault.VerifyAsset(pb.VerifyAssetRequest(name=asset.name))
    assert not result.ok and result.asset.state == pb.ASSET_STATE_CORRUPT
    assert result.files[0].problem == "sha256 mismatch"
    with pytest.raises(grpc.RpcError) as info:
        list(realm.vault.DownloadFile(pb.DownloadFileRequest(asset=asset.name, path="w.bin")))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "CORRUPT" in info.value.details()
    events = realm.vault.ListLedgerEvents(pb.ListLedgerEventsRequest()).events
    assert [e.asset for e in events if e.kind == pb.LEDGER_EVENT_KIND_CORRUPT] == [asset.name]


def test_register_in_place_and_traversal_rejected(realm, tmp_path, zone_root, tree):
    tree(zone_root / "runs" / "s5", {"model.bin": b"m" * 100, "cfg.json": b"{}"})
    (tmp_path / "secret").mkdir()
    (zone_root / "sneaky").symlink_to(tmp_path / "secret")
    asset = realm.vault.RegisterInPlace(pb.RegisterInPlaceRequest(
        zone="hot", path="runs/s5", kind=pb.ASSET_KIND_CHECKPOINT,
        lineage=pb.Lineage(campaign="campaigns/c1", global_step=5))).asset
    assert asset.in_place and sorted(f.path for f in asset.files) == ["cfg.json", "model.bin"]
    for path in ("../secret", "/etc", "runs/../../secret", "sneaky"):
        with pytest.raises(grpc.RpcError) as info:
            realm.vault.RegisterInPlace(pb.RegisterInPlaceRequest(zone="hot", path=path,
                                                                  kind=pb.ASSET_KIND_CHECKPOINT))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, path
        assert info.value.details().startswith("path:"), info.value.details()


def test_aliases_best_by_metric_and_pagination(realm, tree, tmp_path):
    names = []
    for step, acc in [(10, 0.3), (20, 0.8), (30, 0.6)]:
        a = realm.vault.push(tree(tmp_path / f"s{step}", {"w": str(step).encode()}), "checkpoint",
                             lineage={**LINEAGE, "global_step": step})
        realm.vault.AttachEval(pb.AttachEvalRequest(asset=a.name, eval=pb.Eval(skill="bin", level=1, accuracy=acc,
                                                                                 correct=int(acc * 10), total=10)))
        moved = realm.vault.SetAlias(pb.SetAliasRequest(
            alias=pb.Alias(name="campaigns/c1/aliases/best/bin", asset=a.name, metric="accuracy",
                           metric_value=acc, direction=pb.METRIC_DIRECTION_MAXIMIZE), only_if_better=True)).moved
        assert moved == (step != 30)
        names.append(a.name)
    resolved = realm.vault.ResolveAlias(pb.ResolveAliasRequest(name="campaigns/c1/aliases/best/bin"))
    assert resolved.asset.name == names[1] and resolved.alias.metric_value == 0.8
    best = realm.vault.QueryCheckpoints(pb.QueryCheckpointsRequest(campaign="campaigns/c1", skill="bin",
                                                                   order_by="accuracy"))
    assert [c.asset.lineage.global_step for c in best.checkpoints] == [20, 30, 10]
    assert best.checkpoints[0].best_eval.accuracy == 0.8
    pinned = realm.vault.PinAsset(pb.PinAssetRequest(name=names[0], note="first")).asset
    assert pinned.pinned
    aliases = realm.vault.ListAliases(pb.ListAliasesRequest(campaign="campaigns/c1")).aliases
    assert {a.name for a in aliases} == {"campaigns/c1/aliases/latest", "campaigns/c1/aliases/best/bin"}
    seen, token = [], ""
    while True:
        page = realm.vault.ListAssets(pb.ListAssetsRequest(page_size=2, page_token=token, campaign="campaigns/c1"))
        seen += [a.name for a in page.assets]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(names) and page.total_size == 3


def test_gc_over_rpc(realm, tree, tmp_path):
    for step in range(1, 5):
        realm.vault.push(tree(tmp_path / f"s{step}", {"w": str(step).encode() * 100}), "checkpoint",
                         lineage={**LINEAGE, "global_step": step})
    realm.vault.SetRetentionPolicy(pb.SetRetentionPolicyRequest(policy=pb.RetentionPolicy(
        campaign="campaigns/c1", keep_latest=2, enabled=True)))
    plan = realm.vault.RunGc(pb.RunGcRequest(campaign="campaigns/c1", dry_run=True))
    assert [(d.global_step, d.keep) for d in plan.decisions] == [(4, True), (3, True), (2, False), (1, False)]
    done = realm.vault.RunGc(pb.RunGcRequest(campaign="campaigns/c1"))
    assert done.deleted_assets == 2 and done.reclaimed_bytes == 200
    assert realm.vault.ListAssets(pb.ListAssetsRequest(campaign="campaigns/c1")).total_size == 2


def test_ledger_watch_resumes_without_gap_or_duplicate(vault_process, tree, tmp_path):
    server = vault_process()  # a separate process: consumers disconnect (cancel) mid-stream here
    vault = server.start()
    try:
        _check_ledger_watch_resumes(vault, tree, tmp_path)
    except grpc.RpcError:
        report = server.death_report(wait_s=2)
        if report is None:
            raise
        pytest.fail(report)


def _check_ledger_watch_resumes(vault, tree, tmp_path):

    def push(step):
        vault.push(tree(tmp_path / f"s{step}", {"w": str(step).encode()}), "checkpoint",
                         lineage={**LINEAGE, "global_step": step})

    push(1)
    push(2)
    stream = vault.WatchLedger(pb.WatchLedgerRequest(after_sequence=0))
    first = [next(stream).event for _ in range(3)]
    stream.cancel()  # the consumer disconnects
    producer = threading.Thread(target=lambda: [push(s) for s in range(3, 6)])
    producer.start()
    stream = vault.WatchLedger(pb.WatchLedgerRequest(after_sequence=first[-1].sequence))
    rest = []
    expected_total = 2 * 5  # REGISTERED + ALIAS_MOVED(latest) per checkpoint
    for response in stream:
        rest.append(response.event)
        if len(first) + len(rest) == expected_total:
            break
    stream.cancel()
    producer.join()
    sequences = [e.sequence for e in first + rest]
    assert sequences == list(range(1, expected_total + 1))
    history = list(vault.WatchLedger(pb.WatchLedgerRequest(after_sequence=4, history_only=True,
                                                                 kinds=[pb.LEDGER_EVENT_KIND_REGISTERED])))
    assert [h.event.kind for h in history] == [pb.LEDGER_EVENT_KIND_REGISTERED] * 3


BAD_REQUESTS = [
    ("CreateUpload", pb.CreateUploadRequest(kind=pb.ASSET_KIND_DATASET), "INVALID_ARGUMENT", "files:"),
    ("CreateUpload", pb.CreateUploadRequest(files=[pb.AssetFile(path="a", size_bytes=1, sha256="a" * 64)]),
     "INVALID_ARGUMENT", "kind:"),
    ("CreateUpload", pb.CreateUploadRequest(kind=1, files=[pb.AssetFile(path="../a", size_bytes=1,
                                                                        sha256="a" * 64)]),
     "INVALID_ARGUMENT", "files[0].path:"),
    ("CreateUpload", pb.CreateUploadRequest(kind=1, zone="nope", files=[pb.AssetFile(path="a", size_bytes=1,
                                                                                     sha256="a" * 64)]),
     "INVALID_ARGUMENT", "zone:"),
    ("GetUpload", pb.GetUploadRequest(name="bogus"), "INVALID_ARGUMENT", "name:"),
    ("GetUpload", pb.GetUploadRequest(name="uploads/missing"), "NOT_FOUND", "name:"),
    ("CommitUpload", pb.CommitUploadRequest(name="uploads/missing"), "NOT_FOUND", "name:"),
    ("GetAsset", pb.GetAssetRequest(name="assets/missing"), "NOT_FOUND", "name:"),
    ("GetAsset", pb.GetAssetRequest(name=""), "INVALID_ARGUMENT", "name:"),
    ("ListAssets", pb.ListAssetsRequest(page_size=-1), "INVALID_ARGUMENT", "page_size:"),
    ("ListAssets", pb.ListAssetsRequest(page_token="nonsense"), "INVALID_ARGUMENT", "page_token:"),
    ("QueryCheckpoints", pb.QueryCheckpointsRequest(order_by="size"), "INVALID_ARGUMENT", "order_by:"),
    ("ResolveAlias", pb.ResolveAliasRequest(name="campaigns/c1/aliases/none"), "NOT_FOUND", "name:"),
    ("SetAlias", pb.SetAliasRequest(alias=pb.Alias(name="campaigns/c1/aliases/latest", asset="assets/x")),
     "INVALID_ARGUMENT", "alias.name:"),
    ("AttachEval", pb.AttachEvalRequest(asset="assets/x", eval=pb.Eval(accuracy=0.5)), "INVALID_ARGUMENT",
     "eval.skill:"),
    ("AppendLedgerEvent", pb.AppendLedgerEventRequest(event=pb.LedgerEvent(kind=pb.LEDGER_EVENT_KIND_DELETED)),
     "INVALID_ARGUMENT", "event.kind:"),
    ("SetRetentionPolicy", pb.SetRetentionPolicyRequest(policy=pb.RetentionPolicy(campaign="campaigns/c1",
                                                                                   keep_latest=-1)),
     "INVALID_ARGUMENT", "policy.keep_latest:"),
    ("GetRetentionPolicy", pb.GetRetentionPolicyRequest(campaign="campaigns/none"), "NOT_FOUND", "campaign:"),
    ("RegisterInPlace", pb.RegisterInPlaceRequest(zone="hot", path="", kind=1), "INVALID_ARGUMENT", "path:"),
    ("VerifyAsset", pb.VerifyAssetRequest(name="assets/missing"), "NOT_FOUND", "name:"),
    ("RunGc", pb.RunGcRequest(campaign="campaigns/nopolicy", dry_run=True), "NOT_FOUND", "campaign:"),
    ("RunGc", pb.RunGcRequest(campaign="a/b"), "INVALID_ARGUMENT", "campaign:"),
    ("WatchLedger", pb.WatchLedgerRequest(after_sequence=-1, history_only=True), "INVALID_ARGUMENT",
     "after_sequence:"),
    ("DownloadFile", pb.DownloadFileRequest(asset="assets/x", path="p", chunk_size=-1), "INVALID_ARGUMENT",
     "chunk_size:"),
    ("DeleteAlias", pb.DeleteAliasRequest(name="campaigns/c1"), "INVALID_ARGUMENT", "name:"),
]


@pytest.mark.parametrize(("method", "request_", "code", "prefix"), BAD_REQUESTS,
                         ids=[f"{m}-{p}" for m, _, _, p in BAD_REQUESTS])
def test_bad_requests_get_status_and_field(realm, method, request_, code, prefix):
    with pytest.raises(grpc.RpcError) as info:
        response = getattr(realm.vault, method)(request_)
        if method in ("WatchLedger", "DownloadFile"):  # server streams report errors while iterating
            list(response)
    assert info.value.code().name == code
    assert info.value.details().startswith(prefix), info.value.details()


def test_bad_stream_requests(realm):
    def no_header():
        yield pb.WriteUploadRequest(chunk=b"x")

    with pytest.raises(grpc.RpcError) as info:
        realm.vault.WriteUpload(no_header())
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and info.value.details().startswith("header:")
    with pytest.raises(grpc.RpcError) as info:
        list(realm.vault.DownloadFile(pb.DownloadFileRequest(asset="assets/missing", path="x")))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND and info.value.details().startswith("asset:")


def test_read_token_cannot_write(vault_server):
    reader = vault_server.running.connect(token=READ_TOKEN)
    assert reader.vault.GetStats(pb.GetStatsRequest()).total.assets == 0
    with pytest.raises(grpc.RpcError) as info:
        reader.vault.CreateUpload(pb.CreateUploadRequest(kind=1))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED



def test_scheduled_verify_marks_corruption(vault_server_factory, tmp_path, tree):
    server = vault_server_factory(verify_interval_s=0.2)
    realm = server.running.connect()
    data = b"payload" * 100
    asset = realm.vault.push(tree(tmp_path / "src", {"w.bin": data}), "dataset")
    sha = asset.files[0].sha256
    (tmp_path / "zones" / "hot" / "blobs" / sha[:2] / sha[2:4] / sha).write_bytes(b"rotten" * 100 + b"x" * 100)
    for _ in range(100):
        state = realm.vault.GetAsset(pb.GetAssetRequest(name=asset.name)).asset.state
        if state == pb.ASSET_STATE_CORRUPT:
            break
        threading.Event().wait(0.05)
    assert state == pb.ASSET_STATE_CORRUPT


def test_pull_is_atomic_and_refuses_bytes_that_do_not_verify(realm, tree, tmp_path, zone_root):
    data = b"A" * 10_000
    asset = realm.vault.push(tree(tmp_path / "src", {"good.txt": b"fine", "w.bin": data}), "dataset")
    sha = hashlib.sha256(data).hexdigest()
    (zone_root / "blobs" / sha[:2] / sha[2:4] / sha).write_bytes(b"B" * 10_000)  # rot the vault has not seen yet
    dest = tmp_path / "dest"
    with pytest.raises(RuntimeError, match="w.bin"):
        realm.vault.pull(asset.name, dest)
    assert not dest.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".dest")]
    (dest / "old").mkdir(parents=True)
    with pytest.raises(RuntimeError):
        realm.vault.pull(asset.name, dest, overwrite=True)
    assert [p.name for p in dest.iterdir()] == ["old"]  # the previous directory is untouched


def test_remaining_rpcs_round_trip(realm, tree, tmp_path):
    asset = realm.vault.push(tree(tmp_path / "s", {"w": b"w"}), "checkpoint", lineage={**LINEAGE, "global_step": 3})
    labelled = realm.vault.UpdateAssetLabels(pb.UpdateAssetLabelsRequest(
        name=asset.name, set_labels={"stage": "rc"}, remove_labels=["missing"])).asset
    assert dict(labelled.labels) == {"stage": "rc"}
    for level in range(5):
        realm.vault.AttachEval(pb.AttachEvalRequest(asset=asset.name, eval=pb.Eval(
            skill="syllo", level=level, accuracy=level / 10, correct=level, total=10, metrics={"f1": 0.5})))
    seen, token = [], ""
    while True:
        page = realm.vault.ListEvals(pb.ListEvalsRequest(campaign="campaigns/c1", skill="syllo", page_size=2,
                                                         page_token=token))
        seen += [e.level for e in page.evals]
        token = page.next_page_token
        if not token:
            break
    assert seen == [0, 1, 2, 3, 4] and page.evals[-1].metrics["f1"] == 0.5
    event = realm.vault.AppendLedgerEvent(pb.AppendLedgerEventRequest(event=pb.LedgerEvent(
        kind=pb.LEDGER_EVENT_KIND_LEVEL_UP, campaign="campaigns/c1", asset=asset.name, message="syllo 1 -> 2",
        attributes={"skill": "syllo"}))).event
    assert event.sequence > 0 and event.hero == "heroes/h1" and event.asset_kind == pb.ASSET_KIND_CHECKPOINT
    realm.vault.SetAlias(pb.SetAliasRequest(alias=pb.Alias(name="campaigns/c1/aliases/release", asset=asset.name)))
    realm.vault.DeleteAlias(pb.DeleteAliasRequest(name="campaigns/c1/aliases/release"))
    kinds = [e.kind for e in realm.vault.ListLedgerEvents(pb.ListLedgerEventsRequest(page_size=100)).events]
    assert pb.LEDGER_EVENT_KIND_ALIAS_DELETED in kinds and pb.LEDGER_EVENT_KIND_LEVEL_UP in kinds
    policy = pb.RetentionPolicy(campaign="campaigns/-", keep_latest=4, enabled=True, zone_byte_caps={"cold": 10})
    policy.keep_newer_than.FromSeconds(86400)
    realm.vault.SetRetentionPolicy(pb.SetRetentionPolicyRequest(policy=policy))
    stored = realm.vault.GetRetentionPolicy(pb.GetRetentionPolicyRequest(campaign="campaigns/-")).policy
    assert stored.keep_newer_than.ToSeconds() == 86400 and dict(stored.zone_byte_caps) == {"cold": 10}
    upload = realm.vault.CreateUpload(pb.CreateUploadRequest(kind=pb.ASSET_KIND_CONFIG, files=[
        pb.AssetFile(path="c.json", size_bytes=2, sha256=hashlib.sha256(b"{}").hexdigest())])).upload
    realm.vault.AbortUpload(pb.AbortUploadRequest(name=upload.name))
    with pytest.raises(grpc.RpcError) as info:
        realm.vault.CommitUpload(pb.CommitUploadRequest(name=upload.name))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION



def test_disconnecting_watchers_do_not_crash_the_vault(vault_process, tree, tmp_path):
    """Ledger consumers come and go (curriculum reconnects); the vault must survive every disconnect."""
    server = vault_process()
    vault = server.start()
    vault.push(tree(tmp_path / "s", {"w": b"w"}), "checkpoint", lineage={**LINEAGE, "global_step": 1})
    try:
        for _ in range(20):
            stream = vault.WatchLedger(pb.WatchLedgerRequest(after_sequence=0))
            next(stream)
            stream.cancel()
            download = vault.DownloadFile(pb.DownloadFileRequest(asset="campaigns/c1/aliases/latest", path="w"))
            download.cancel()
        threading.Event().wait(0.5)
        assert vault.GetStats(pb.GetStatsRequest()).total.assets == 1
    except grpc.RpcError:
        report = server.death_report()
        if report is None:
            raise
        pytest.fail(report)
