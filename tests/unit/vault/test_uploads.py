from __future__ import annotations

import os

import pytest

from services.kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.vault.models import AssetFile, AssetKind, AssetState, Lineage


def read_all(domain, asset, path, offset=0) -> bytes:
    dl = domain.open_download(asset, path, offset)
    with dl.handle:
        return dl.handle.read()


def test_round_trip_is_byte_identical_and_manifest_is_recorded(domain, h):
    files = {"model.safetensors": os.urandom(50_000), "config.json": b"{}", "tok/empty.txt": b""}
    asset = h.upload(domain, files, step=10)
    assert asset.state == AssetState.ACTIVE and asset.size_bytes == 50_002
    for path, data in files.items():
        assert read_all(domain, asset.name, path) == data
    assert read_all(domain, asset.name, "model.safetensors", offset=123) == files["model.safetensors"][123:]
    assert len(asset.manifest_digest) == 64
    assert asset.aliases == ("campaigns/c1/aliases/latest",)


def test_nothing_is_visible_before_commit(domain, h):
    name = h.upload(domain, {"a": b"x" * 10}, commit=False)
    upload = domain.get_upload(name)
    with pytest.raises(NotFound):
        domain.get_asset(upload.asset)
    assert domain.list_assets()[0] == []


def test_resume_after_broken_stream_continues_from_recorded_offset(domain, h):
    data = os.urandom(100_000)
    up = domain.create_upload(kind=AssetKind.DATASET, files=h.declare({"d.jsonl": data}))
    writer = domain.open_writer(up.name, "d.jsonl", 0)
    writer.write(data[:30_000])
    writer.close()  # the stream broke here
    assert domain.get_upload(up.name).files[0].received_bytes == 30_000
    with pytest.raises(FailedPrecondition, match="header.offset"):
        domain.open_writer(up.name, "d.jsonl", 0)
    writer = domain.open_writer(up.name, "d.jsonl", 30_000)
    writer.write(data[30_000:])
    writer.close()
    asset = domain.commit_upload(up.name)
    assert read_all(domain, asset.name, "d.jsonl") == data


def test_resume_rehashes_when_process_state_is_lost(tmp_path, h):
    data = os.urandom(80_000)
    first = h.make_domain(tmp_path)
    up = first.create_upload(kind=AssetKind.DATASET, files=h.declare({"d": data}))
    writer = first.open_writer(up.name, "d", 0)
    writer.write(data[:50_000])
    writer.close()
    first.close()
    second = h.make_domain(tmp_path)  # a restarted process: no cached hash state
    writer = second.open_writer(up.name, "d", 50_000)
    writer.write(data[50_000:])
    writer.close()
    asset = second.commit_upload(up.name)
    assert read_all(second, asset.name, "d") == data
    second.close()


def test_commit_refuses_incomplete_upload(domain, h):
    up = domain.create_upload(kind=AssetKind.DATASET, files=h.declare({"d": b"abc"}))
    with pytest.raises(FailedPrecondition, match="incomplete"):
        domain.commit_upload(up.name)


def test_wrong_content_is_rejected_and_progress_reset(domain, h):
    up = domain.create_upload(kind=AssetKind.DATASET, files=h.declare({"d": b"good"}))
    writer = domain.open_writer(up.name, "d", 0)
    with pytest.raises(InvalidArgument, match="chunk"):
        writer.write(b"evil")
    writer.close()
    assert domain.get_upload(up.name).files[0].received_bytes == 0
    with pytest.raises(FailedPrecondition):
        domain.commit_upload(up.name)


def test_oversized_chunk_rejected(domain, h):
    up = domain.create_upload(kind=AssetKind.DATASET, files=h.declare({"d": b"1234"}))
    writer = domain.open_writer(up.name, "d", 0)
    with pytest.raises(InvalidArgument, match="declared size"):
        writer.write(b"12345")
    writer.close()


def test_dedup_second_upload_sends_and_stores_nothing_new(domain, h, tmp_path):
    files = {"w.bin": os.urandom(40_000), "c.json": b'{"a": 1}'}
    h.upload(domain, files, step=1)
    before = domain.stats().total.stored_bytes
    up = domain.create_upload(kind=AssetKind.CHECKPOINT, files=h.declare(files),
                              lineage=Lineage(campaign="c1", global_step=2))
    assert all(f.already_stored for f in up.files)
    second = domain.commit_upload(up.name)
    stats = domain.stats()
    assert stats.total.stored_bytes == before == 40_008
    assert stats.total.logical_bytes == 2 * 40_008 and stats.total.assets == 2
    blob_files = [p for p in (tmp_path / "hot" / "blobs").rglob("*") if p.is_file()]
    assert len(blob_files) == 2
    assert read_all(domain, second.name, "w.bin") == files["w.bin"]


def test_request_id_is_idempotent(domain, h):
    a = domain.create_upload(kind=AssetKind.CONFIG, files=h.declare({"x": b"1"}), request_id="k1")
    b = domain.create_upload(kind=AssetKind.CONFIG, files=h.declare({"x": b"1"}), request_id="k1")
    assert a.name == b.name


def test_abort_hides_upload_forever(domain, h):
    name = h.upload(domain, {"x": b"123"}, commit=False)
    domain.abort_upload(name)
    with pytest.raises(FailedPrecondition):
        domain.commit_upload(name)


@pytest.mark.parametrize(
    ("files", "field"),
    [
        ([], "files"),
        ([AssetFile("../x", 1, "a" * 64)], "files[0].path"),
        ([AssetFile("/etc/passwd", 1, "a" * 64)], "files[0].path"),
        ([AssetFile("a//b", 1, "a" * 64)], "files[0].path"),
        ([AssetFile("a", 1, "A" * 64)], "files[0].sha256"),
        ([AssetFile("a", -1, "a" * 64)], "files[0].size_bytes"),
        ([AssetFile("a", 1, "a" * 64), AssetFile("a", 1, "b" * 64)], "files[1].path"),
        ([AssetFile("a", 0, "a" * 64)], "files[0].sha256"),
    ],
)
def test_bad_declarations_name_the_field(domain, files, field):
    with pytest.raises(InvalidArgument) as info:
        domain.create_upload(kind=AssetKind.DATASET, files=files)
    assert info.value.field == field


def test_bad_kind_zone_and_lineage(domain, h):
    good = h.declare({"a": b"1"})
    for kwargs, field in [
        ({"kind": 0}, "kind"),
        ({"kind": 99}, "kind"),
        ({"kind": 1, "zone": "nope"}, "zone"),
        ({"kind": 1, "lineage": Lineage(campaign="a/b")}, "lineage.campaign"),
        ({"kind": 1, "lineage": Lineage(global_step=-1)}, "lineage.global_step"),
        ({"kind": 1, "lineage": Lineage(parent_checkpoint="x")}, "lineage.parent_checkpoint"),
        ({"kind": 1, "labels": {"bad key": "v"}}, "labels"),
    ]:
        with pytest.raises(InvalidArgument) as info:
            domain.create_upload(files=good, **kwargs)
        assert info.value.field == field, kwargs


def test_register_in_place_hashes_without_copy(domain, tmp_path):
    ckpt = tmp_path / "hot" / "runs" / "step-5"
    (ckpt / "sub").mkdir(parents=True)
    (ckpt / "model.bin").write_bytes(b"m" * 1000)
    (ckpt / "sub" / "tok.json").write_bytes(b"{}")
    asset = domain.register_in_place(zone="hot", path="runs/step-5", kind=AssetKind.CHECKPOINT,
                                     lineage=Lineage(campaign="c1", global_step=5))
    assert asset.in_place and [f.path for f in asset.files] == ["model.bin", "sub/tok.json"]
    assert read_all(domain, asset.name, "sub/tok.json") == b"{}"
    assert not any((tmp_path / "hot" / "blobs").rglob("*.bin"))
    with pytest.raises(AlreadyExists):
        domain.register_in_place(zone="hot", path="runs/step-5", kind=AssetKind.CHECKPOINT)


@pytest.mark.parametrize("path", ["../outside", "/etc", "runs/../../outside", "escape", "blobs", "linkdir"])
def test_register_in_place_rejects_escapes(domain, tmp_path, path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    (tmp_path / "hot" / "escape").symlink_to(outside)
    inner = tmp_path / "hot" / "linkdir"
    inner.mkdir()
    (inner / "ok.txt").write_text("ok")
    (inner / "leak").symlink_to(outside / "secret")
    with pytest.raises(InvalidArgument) as info:
        domain.register_in_place(zone="hot", path=path, kind=AssetKind.CHECKPOINT)
    assert info.value.field == "path"


def test_deleting_an_in_place_asset_removes_its_files(domain, tmp_path):
    ckpt = tmp_path / "hot" / "runs" / "s1"
    ckpt.mkdir(parents=True)
    (ckpt / "model.bin").write_bytes(b"m" * 100)
    asset = domain.register_in_place(zone="hot", path="runs/s1", kind=AssetKind.DATASET)
    assert domain.stats().total.stored_bytes == 100
    domain.delete_asset(asset.name)
    assert not (ckpt / "model.bin").exists()
    assert domain.stats().total.stored_bytes == 0
    # the path is free again once the asset is gone
    (ckpt / "model.bin").write_bytes(b"n" * 10)
    assert domain.register_in_place(zone="hot", path="runs/s1", kind=AssetKind.DATASET).size_bytes == 10


def test_blob_promised_to_an_upload_survives_deletion_of_its_owner(domain, h):
    files = {"w": os.urandom(20_000)}
    first = h.upload(domain, files, step=1)
    up = domain.create_upload(kind=AssetKind.CHECKPOINT, files=h.declare(files),
                              lineage=Lineage(campaign="c2", global_step=1))
    assert up.files[0].already_stored  # dedup: nothing will be sent
    domain.delete_asset(first.name, force=True)  # the only ACTIVE owner goes away mid-upload
    second = domain.commit_upload(up.name)
    assert read_all(domain, second.name, "w") == files["w"]
    assert domain.verify_asset(second.name).ok


def test_interrupted_delete_resumes_when_asked_again(domain, h, monkeypatch):
    asset = h.upload(domain, {"w": b"x" * 100}, step=1)
    domain.set_pinned(asset.name, True)
    monkeypatch.setattr(domain._deleter, "finish", lambda pk: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        domain.delete_asset(asset.name, force=True)
    monkeypatch.undo()
    assert domain.get_asset(asset.name).state == AssetState.DELETING
    assert domain.delete_asset(asset.name).state == AssetState.DELETED  # no force needed to finish
    kinds = [e.kind for e in domain.ledger_events() if e.asset == asset.name]
    from services.vault.models import LedgerEventKind

    assert kinds.count(LedgerEventKind.DELETING) == 1 and kinds.count(LedgerEventKind.DELETED) == 1
