"""The kit's SQLite backups: consistent copies while writes go on, retention, verified restore, refusals."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from fixtures.kit import make_test_settings
from services.kit.backup import (
    PENDING_RESTORE,
    REASON_PRE_RESTORE,
    BackupManager,
    BackupSettings,
    integrity_errors,
    manager_for,
    sha256_file,
)
from services.kit.config import ConfigError
from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound


def open_store(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL)")
    db.execute("CREATE TABLE IF NOT EXISTS totals (one INTEGER PRIMARY KEY CHECK (one = 1), total INTEGER)")
    db.execute("INSERT OR IGNORE INTO totals VALUES (1, 0)")
    return db


def add_entry(db: sqlite3.Connection, amount: int) -> None:
    """One transaction keeps the invariant sum(entries.amount) == totals.total."""
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO entries (amount) VALUES (?)", (amount,))
    db.execute("UPDATE totals SET total = total + ?", (amount,))
    db.execute("COMMIT")


def invariant(path: Path) -> tuple[int, int, int]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        count, entry_sum = db.execute("SELECT count(*), coalesce(sum(amount), 0) FROM entries").fetchone()
        (total,) = db.execute("SELECT total FROM totals").fetchone()
    finally:
        db.close()
    return count, entry_sum, total


@pytest.fixture
def manager(tmp_path) -> BackupManager:
    settings = make_test_settings(tmp_path, backup={"keep": 3})
    return manager_for(settings, "vault")


def test_backups_taken_during_writes_are_consistent_and_sound(manager, tmp_path):
    path = manager.data_dir / "vault" / "catalog.sqlite3"
    path.parent.mkdir(parents=True)
    writer_db = open_store(path)
    manager.declare("catalog", path)
    committed = threading.Semaphore(0)
    stop = threading.Event()

    def write_forever() -> None:
        amount = 0
        while not stop.is_set():
            amount += 1
            add_entry(writer_db, amount)
            committed.release()

    writer = threading.Thread(target=write_forever)
    writer.start()
    records = []
    try:
        for _ in range(3):
            for _ in range(50):  # at least 50 more commits before each backup: the copy is taken mid-stream
                committed.acquire()
            records.append(manager.create())
    finally:
        stop.set()
        writer.join()
        writer_db.close()

    counts = []
    for record in records:
        (item,) = record.files
        copy = manager.directory / record.id / item.file
        assert item.store == "catalog" and item.store_path == "vault/catalog.sqlite3"
        assert integrity_errors(copy) == []
        assert sha256_file(copy) == item.sha256 and copy.stat().st_size == item.size_bytes
        assert not Path(f"{copy}-wal").exists()  # self-contained: no WAL beside the copy
        count, entry_sum, total = invariant(copy)
        assert entry_sum == total  # no half-applied transaction in the snapshot
        counts.append(count)
    assert counts[0] >= 50 and counts == sorted(counts) and counts[0] < counts[-1]


def test_retention_keeps_the_newest_k(manager):
    path = manager.data_dir / "store.sqlite3"
    open_store(path).close()
    manager.declare("main", path)
    made = [manager.create().id for _ in range(5)]
    assert [r.id for r in manager.list()] == list(reversed(made))[:3]
    assert sorted(p.name for p in manager.directory.iterdir() if p.is_dir()) == sorted(made[-3:])


def test_staged_restore_brings_the_data_back_and_keeps_a_pre_restore_copy(manager):
    path = manager.data_dir / "store.sqlite3"
    db = open_store(path)
    for amount in (1, 2, 3):
        add_entry(db, amount)
    manager.declare("main", path)
    record = manager.create()
    db.execute("DELETE FROM entries")
    db.execute("UPDATE totals SET total = 0")
    add_entry(db, 100)
    db.close()

    staged = manager.stage_restore(record.id)
    assert staged.id == record.id and (manager.directory / PENDING_RESTORE).exists()
    restored = manager.apply_pending_restore()

    assert restored is not None and restored.id == record.id
    assert invariant(path) == (3, 6, 6)
    assert not (manager.directory / PENDING_RESTORE).exists()
    assert manager.apply_pending_restore() is None
    pre = [r for r in manager.list() if r.reason == REASON_PRE_RESTORE]
    assert len(pre) == 1
    assert invariant(manager.directory / pre[0].id / "main.sqlite3") == (1, 100, 100)
    reopened = open_store(path)  # the service opens it in WAL mode again
    add_entry(reopened, 4)
    reopened.close()
    assert invariant(path) == (4, 10, 10)


def test_restore_removes_a_stale_wal_so_it_is_not_replayed(manager):
    path = manager.data_dir / "store.sqlite3"
    db = open_store(path)
    add_entry(db, 7)
    manager.declare("main", path)
    record = manager.create()
    db.execute("PRAGMA wal_autocheckpoint=0")
    add_entry(db, 1000)  # lives only in the WAL
    stale_wal = Path(f"{path}-wal").read_bytes()
    db.close()
    # The store file is lost but its WAL is left behind (as after a bad disk or a careless copy).
    path.unlink()
    Path(f"{path}-wal").write_bytes(stale_wal)

    manager.stage_restore(record.id)
    manager.apply_pending_restore()

    assert not Path(f"{path}-wal").exists()
    reopened = open_store(path)  # WAL mode again, as the service opens it: nothing stale may be replayed
    reopened.close()
    assert invariant(path) == (1, 7, 7)
    assert integrity_errors(path) == []


def test_a_damaged_backup_is_refused(manager):
    path = manager.data_dir / "store.sqlite3"
    open_store(path).close()
    manager.declare("main", path)
    record = manager.create()
    copy = manager.directory / record.id / "main.sqlite3"
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))

    with pytest.raises(FailedPrecondition, match="sha256"):
        manager.verify(record.id)
    with pytest.raises(FailedPrecondition):
        manager.stage_restore(record.id)
    assert not (manager.directory / PENDING_RESTORE).exists()


def test_names_and_parents_are_checked(manager):
    with pytest.raises(InvalidArgument) as bad:
        manager.parse_name("services/trainer/backups/20250101-000000-000000-abcdef")
    assert bad.value.field == "name"
    with pytest.raises(InvalidArgument, match="name: must look like"):
        manager.parse_name("services/vault/backups/../../etc")
    with pytest.raises(InvalidArgument, match="name: is required"):
        manager.parse_name("")
    with pytest.raises(InvalidArgument, match="parent: must be services/vault"):
        manager.check_parent("services/trainer")
    manager.check_parent("")
    manager.check_parent("services/vault")
    with pytest.raises(NotFound):
        manager.get("20250101-000000-000000-abcdef")


def test_nothing_declared_is_a_failed_precondition(manager):
    with pytest.raises(FailedPrecondition, match="declares no SQLite stores"):
        manager.create()
    assert manager.list() == []


def test_a_half_built_backup_is_not_listed_and_is_cleaned_up(manager):
    path = manager.data_dir / "store.sqlite3"
    open_store(path).close()
    manager.declare("main", path)
    leftover = manager.directory / ".tmp-20250101-000000-000000-abcdef"
    leftover.mkdir(parents=True)
    (leftover / "main.sqlite3").write_bytes(b"partial")
    record = manager.create()
    assert [r.id for r in manager.list()] == [record.id]
    assert not leftover.exists()


def test_offline_restore_is_refused_while_the_service_holds_its_lock(manager, tmp_path):
    path = manager.data_dir / "store.sqlite3"
    open_store(path).close()
    manager.declare("main", path)
    record = manager.create()
    running = BackupManager("vault", manager.data_dir, manager.config)
    assert running.acquire_service_lock()
    try:
        with pytest.raises(FailedPrecondition, match="is running"):
            manager.restore_offline(record.name)
    finally:
        running.release_service_lock()
    assert manager.restore_offline(record.name).id == record.id


def test_store_declarations_are_checked(manager):
    manager.declare("main", manager.data_dir / "a.sqlite3")
    with pytest.raises(ValueError, match="already declared"):
        manager.declare("main", manager.data_dir / "b.sqlite3")
    with pytest.raises(ValueError, match="must match"):
        manager.declare("Bad Name", manager.data_dir / "c.sqlite3")


@pytest.mark.parametrize(("section", "key"), [
    ({"keep": 0}, "backup.keep"), ({"keep": "many"}, "backup.keep"),
    ({"interval_s": -1}, "backup.interval_s"), ({"interval_s": "hourly"}, "backup.interval_s"),
])
def test_bad_backup_settings_name_the_key(tmp_path, section, key):
    with pytest.raises(ConfigError) as error:
        BackupSettings.from_settings(make_test_settings(tmp_path, backup=section))
    assert error.value.key == key


def test_backup_settings_defaults_and_relative_dir(tmp_path):
    settings = make_test_settings(tmp_path)
    assert BackupSettings.from_settings(settings).root == settings.data_dir / "backups"
    configured = BackupSettings.from_settings(make_test_settings(tmp_path, backup={"dir": "elsewhere", "keep": 2,
                                                                                   "interval_s": 60}))
    assert (configured.root, configured.keep, configured.interval_s) == (Path(tmp_path) / "elsewhere", 2, 60.0)


def test_a_manifest_naming_paths_outside_is_refused(manager):
    path = manager.data_dir / "store.sqlite3"
    open_store(path).close()
    manager.declare("main", path)
    record = manager.create()
    manifest = manager.directory / record.id / "manifest.json"
    data = json.loads(manifest.read_text())
    data["files"][0]["store_path"] = "../../outside.sqlite3"
    manifest.write_text(json.dumps(data))
    with pytest.raises(FailedPrecondition, match="unsafe path"):
        manager.stage_restore(record.id)
