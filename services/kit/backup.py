"""Consistent backups of a service's SQLite stores, and their restore.

A backup copies every declared store with SQLite's online backup API (`sqlite3.Connection.backup`) from a
connection of its own: the copy is one consistent snapshot per store even while the service keeps writing
(WAL readers do not block writers). Each copy is checked with `PRAGMA integrity_check`, switched to a
self-contained rollback journal, hashed, and the backup directory appears atomically (built under a temporary
name, renamed when complete), so a crash mid-backup never leaves a half backup that looks whole.

Layout: `<backup.dir>/<service>/<backup id>/{manifest.json, <store>.sqlite3 ...}`.

Restore never writes under a running service. `stage_restore` records the wish (`RESTORE-PENDING.json`);
`apply_pending_restore` runs at the service's next start, before any store opens: it verifies every file,
takes a pre-restore backup of the current stores (so a restore can be undone), removes the stores' `-wal`/
`-shm` (an old WAL replayed onto the restored file would corrupt it), and moves each copy into place with
temp + fsync + rename. A crash part-way leaves the marker, so the next start applies it again.

Domain code: no grpc here; errors are the kit's domain exceptions.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.kit.config import ConfigError, Settings
from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound

MANIFEST = "manifest.json"
PENDING_RESTORE = "RESTORE-PENDING.json"
SERVICE_LOCK = "service.lock"  # held by a running service process (prepare); an offline restore needs it free
TEMP_PREFIX = ".tmp-"
STORE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
BACKUP_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9]{6}-[0-9a-f]{6}$")
SIDE_FILES = ("-wal", "-shm", "-journal")
HASH_BLOCK = 4 * 1024 * 1024

REASON_ON_DEMAND = "on_demand"
REASON_SCHEDULED = "scheduled"
REASON_PRE_RESTORE = "pre_restore"
REASONS = (REASON_ON_DEMAND, REASON_SCHEDULED, REASON_PRE_RESTORE)

DEFAULT_KEEP = 7
DEFAULT_INTERVAL_S = 0.0  # no schedule unless realm.yaml asks for one


@dataclass(frozen=True)
class BackupSettings:
    """The `backup` section of realm.yaml: where backups go, how often, how many are kept."""

    root: Path
    interval_s: float = DEFAULT_INTERVAL_S
    keep: int = DEFAULT_KEEP

    @classmethod
    def from_settings(cls, settings: Settings) -> BackupSettings:
        section = settings.section("backup")
        raw_dir = section.get("dir")
        root = Path(str(raw_dir)) if raw_dir else settings.data_dir / "backups"
        root = root if root.is_absolute() else settings.root / root
        interval = section.get("interval_s", DEFAULT_INTERVAL_S)
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval < 0:
            raise ConfigError("backup.interval_s", f"must be a number of seconds >= 0 (0 = no schedule), got {interval!r}")
        keep = section.get("keep", DEFAULT_KEEP)
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ConfigError("backup.keep", f"must be an integer >= 1, got {keep!r}")
        return cls(root=root, interval_s=float(interval), keep=keep)


@dataclass(frozen=True)
class SqliteStore:
    name: str
    path: Path


@dataclass(frozen=True)
class BackupFile:
    store: str
    file: str
    size_bytes: int
    sha256: str
    store_path: str  # relative to the data directory when inside it

    def to_dict(self) -> dict[str, Any]:
        return {"store": self.store, "file": self.file, "size_bytes": self.size_bytes, "sha256": self.sha256,
                "store_path": self.store_path}


@dataclass(frozen=True)
class BackupRecord:
    id: str
    service: str
    create_time: datetime
    reason: str
    files: tuple[BackupFile, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return f"services/{self.service}/backups/{self.id}"

    @property
    def total_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "service": self.service, "create_time": self.create_time.isoformat(),
                "reason": self.reason, "files": [f.to_dict() for f in self.files]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BackupRecord:
        return cls(
            id=str(data["id"]), service=str(data["service"]),
            create_time=datetime.fromisoformat(str(data["create_time"])), reason=str(data["reason"]),
            files=tuple(BackupFile(str(f["store"]), str(f["file"]), int(f["size_bytes"]), str(f["sha256"]),
                                   str(f["store_path"])) for f in data["files"]),
        )


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb", buffering=0) as handle:
        while block := handle.read(HASH_BLOCK):
            hasher.update(block)
    return hasher.hexdigest()


def integrity_errors(path: Path) -> list[str]:
    """`PRAGMA integrity_check` of a database file, read-only; [] when it is sound."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = [str(r[0]) for r in db.execute("PRAGMA integrity_check").fetchall()]
        finally:
            db.close()
    except sqlite3.Error as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def consistent_copy(source: Path, destination: Path) -> None:
    """One consistent snapshot of `source` into a new self-contained file `destination` (online backup API)."""
    # Open the source without creating it: a missing store is an error, not an empty backup.
    src = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(destination)
        try:
            src.backup(dst)  # pages=-1: the whole database in one step, under one read snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # the copy is one file, no -wal beside it
        finally:
            dst.close()
    finally:
        src.close()
    _fsync_file(destination)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    with open(tmp, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _new_backup_id(now: datetime) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{now.microsecond:06d}-{secrets.token_hex(3)}"


class BackupManager:
    """The backups of one service's stores: create, list, verify, stage and apply a restore, retention."""

    def __init__(self, service: str, data_dir: Path, config: BackupSettings) -> None:
        self.service = service
        self.data_dir = Path(data_dir)
        self.config = config
        self.directory = config.root / service
        self._stores: dict[str, SqliteStore] = {}
        self._lock = threading.Lock()  # one backup or restore at a time (schedule and callers share it)
        self._service_lock_fd: int | None = None

    # -- declarations ----------------------------------------------------------------------------------
    def declare(self, name: str, path: str | os.PathLike[str]) -> SqliteStore:
        if not STORE_NAME.match(name):
            raise ValueError(f"store name {name!r} must match {STORE_NAME.pattern}")
        if name in self._stores:
            raise ValueError(f"store {name!r} is already declared")
        store = SqliteStore(name, Path(path).resolve())
        self._stores[name] = store
        return store

    @property
    def stores(self) -> list[SqliteStore]:
        return list(self._stores.values())

    # -- names -----------------------------------------------------------------------------------------
    def check_parent(self, parent: str, field_name: str = "parent") -> None:
        if parent and parent != f"services/{self.service}":
            raise InvalidArgument(f"must be services/{self.service} (or empty) on the {self.service} service; "
                                  f"got {parent!r}; ask that service at its own address", field=field_name)

    def parse_name(self, name: str, field_name: str = "name") -> str:
        prefix = f"services/{self.service}/backups/"
        if not name:
            raise InvalidArgument(f"is required: {prefix}<backup>", field=field_name)
        if name.startswith("services/") and not name.startswith(prefix):
            raise InvalidArgument(f"names another service; this is the {self.service} service", field=field_name)
        backup_id = name.removeprefix(prefix)
        if not BACKUP_ID.match(backup_id):
            raise InvalidArgument(f"must look like {prefix}<yyyymmdd-hhmmss-micros-hex>, got {name!r}",
                                  field=field_name)
        return backup_id

    # -- create ----------------------------------------------------------------------------------------
    def create(self, reason: str = REASON_ON_DEMAND) -> BackupRecord:
        if not self._stores:
            raise FailedPrecondition(f"the {self.service} service declares no SQLite stores; nothing to back up")
        with self._lock:
            record = self._create(self.stores, reason)
            self._prune()
        return record

    def _create(self, stores: Iterable[SqliteStore], reason: str) -> BackupRecord:
        if reason not in REASONS:
            raise ValueError(f"unknown backup reason {reason!r}")
        now = datetime.now(UTC)
        backup_id = _new_backup_id(now)
        self.directory.mkdir(parents=True, exist_ok=True)
        staging = self.directory / f"{TEMP_PREFIX}{backup_id}"
        staging.mkdir()
        try:
            files = []
            for store in stores:
                file_name = f"{store.name}.sqlite3"
                copy = staging / file_name
                consistent_copy(store.path, copy)
                problems = integrity_errors(copy)
                if problems:
                    raise FailedPrecondition(f"the copy of store {store.name} failed integrity_check: "
                                             f"{'; '.join(problems[:3])}")
                files.append(BackupFile(store.name, file_name, copy.stat().st_size, sha256_file(copy),
                                        self._store_path(store.path)))
            record = BackupRecord(backup_id, self.service, now, reason, tuple(files))
            _atomic_write_json(staging / MANIFEST, record.to_dict())
            os.replace(staging, self.directory / backup_id)
            _fsync_dir(self.directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return record

    def _store_path(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.data_dir.resolve()))
        except ValueError:
            return str(path.resolve())

    def _resolve_store_path(self, store_path: str) -> Path:
        path = Path(store_path)
        return path if path.is_absolute() else self.data_dir / path

    # -- read ------------------------------------------------------------------------------------------
    def list(self) -> list[BackupRecord]:
        """Every complete backup of this service, newest first (half-built ones are not listed)."""
        if not self.directory.is_dir():
            return []
        records = []
        for entry in self.directory.iterdir():
            if entry.is_dir() and BACKUP_ID.match(entry.name) and (entry / MANIFEST).is_file():
                try:
                    records.append(BackupRecord.from_dict(json.loads((entry / MANIFEST).read_text())))
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # a damaged manifest is not a backup anyone can restore
        records.sort(key=lambda r: (r.create_time, r.id), reverse=True)
        return records

    def get(self, backup_id: str) -> BackupRecord:
        manifest = self.directory / backup_id / MANIFEST
        try:
            return BackupRecord.from_dict(json.loads(manifest.read_text()))
        except FileNotFoundError:
            raise NotFound(f"no backup services/{self.service}/backups/{backup_id}", field="name") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FailedPrecondition(f"backup {backup_id} has an unreadable manifest: {exc}", field="name") from None

    def verify(self, backup_id: str) -> BackupRecord:
        """The backup, after checking each file's size, sha256 and integrity; FailedPrecondition if damaged."""
        record = self.get(backup_id)
        for item in record.files:
            # A manifest only ever names plain files beside it and stores under their recorded paths.
            if Path(item.file).name != item.file or ".." in Path(item.store_path).parts:
                raise FailedPrecondition(f"backup {backup_id}: the manifest names an unsafe path", field="name")
            path = self.directory / backup_id / item.file
            if not path.is_file():
                raise FailedPrecondition(f"backup {backup_id} lacks {item.file}", field="name")
            if path.stat().st_size != item.size_bytes or sha256_file(path) != item.sha256:
                raise FailedPrecondition(f"backup {backup_id}: {item.file} does not match its sha256", field="name")
            problems = integrity_errors(path)
            if problems:
                raise FailedPrecondition(f"backup {backup_id}: {item.file} fails integrity_check: {problems[0]}",
                                         field="name")
        return record

    # -- restore ---------------------------------------------------------------------------------------
    @property
    def pending_marker(self) -> Path:
        return self.directory / PENDING_RESTORE

    def stage_restore(self, backup_id: str) -> BackupRecord:
        """Verify the backup and record that the next start must restore it."""
        with self._lock:
            record = self.verify(backup_id)
            self.directory.mkdir(parents=True, exist_ok=True)
            _atomic_write_json(self.pending_marker, {"backup": backup_id, "staged_at": time.time()})
        return record

    def pending_restore(self) -> str | None:
        try:
            return str(json.loads(self.pending_marker.read_text())["backup"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FailedPrecondition(f"{self.pending_marker} is unreadable ({exc}); remove it or stage again") from None

    def apply_pending_restore(self) -> BackupRecord | None:
        """At start, before any store opens: restore the staged backup, if any. Returns what it restored."""
        backup_id = self.pending_restore()
        if backup_id is None:
            return None
        record = self.restore_now(backup_id)
        self.pending_marker.unlink(missing_ok=True)
        _fsync_dir(self.directory)
        return record

    def restore_now(self, backup_id: str) -> BackupRecord:
        """Put the backup's files in place. Only while the service is stopped (at start, or offline)."""
        with self._lock:
            record = self.verify(backup_id)
            current = [SqliteStore(f.store, self._resolve_store_path(f.store_path)) for f in record.files]
            existing = [s for s in current if s.path.is_file()]
            if existing:
                self._create(existing, REASON_PRE_RESTORE)
            for item, store in zip(record.files, current, strict=True):
                self._put_in_place(self.directory / backup_id / item.file, store.path)
            self._prune(protect={backup_id})
        return record

    @staticmethod
    def _put_in_place(copy: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.restore-tmp")
        shutil.copyfile(copy, tmp)
        _fsync_file(tmp)
        for suffix in SIDE_FILES:
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, target)
        _fsync_dir(target.parent)

    # -- the running-service lock ----------------------------------------------------------------------------
    def acquire_service_lock(self) -> bool:
        """Hold an exclusive flock for this process's lifetime; False when another process holds it."""
        if self._service_lock_fd is not None:
            return True
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / SERVICE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._service_lock_fd = fd
        return True

    def release_service_lock(self) -> None:
        if self._service_lock_fd is not None:
            os.close(self._service_lock_fd)  # closing the descriptor drops the flock
            self._service_lock_fd = None

    def restore_offline(self, name: str) -> BackupRecord:
        """`python -m services.<name> --restore-backup NAME`: restore now, refused while the service runs."""
        backup_id = self.parse_name(name)
        if not self.acquire_service_lock():
            raise FailedPrecondition(f"the {self.service} service is running (it holds {self.directory / SERVICE_LOCK})"
                                     "; stop it first, or ask it with RestoreBackup", field="name")
        try:
            self.pending_marker.unlink(missing_ok=True)  # this restore supersedes a staged one
            return self.restore_now(backup_id)
        finally:
            self.release_service_lock()

    # -- retention -------------------------------------------------------------------------------------
    def _prune(self, protect: set[str] = frozenset()) -> list[str]:
        """Keep the newest `keep` backups (each holds every store, so: the newest `keep` per store)."""
        removed = []
        try:
            protect = {*protect, *filter(None, [self.pending_restore()])}
        except FailedPrecondition:
            pass
        for record in self.list()[self.config.keep:]:
            if record.id in protect:
                continue
            shutil.rmtree(self.directory / record.id, ignore_errors=True)
            removed.append(record.id)
        for leftover in self.directory.glob(f"{TEMP_PREFIX}*"):  # from a crash mid-backup
            shutil.rmtree(leftover, ignore_errors=True)
        return removed


def manager_for(settings: Settings, service: str) -> BackupManager:
    return BackupManager(service, settings.data_dir, BackupSettings.from_settings(settings))
