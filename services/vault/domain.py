"""The vault domain: catalog + blob store. Synchronous and thread-safe; the servicer calls it off the loop.

Invariants:
- an asset is visible (listed, downloadable) only once ACTIVE; it becomes ACTIVE in the same transaction
  that records its manifest, after every file's bytes are in place with the declared size and sha256;
- a stored file (zone, location) is removed only when no asset in a state other than DELETED references it;
- every state change of an asset or alias appends a ledger event in the same transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from services.kit.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from services.kit.paging import decode_token, encode_token, page_size
from services.vault import names
from services.vault.blobstore import EMPTY_SHA256, Zone, hash_file, install_blob, write_empty_blob
from services.vault.catalog import Catalog
from services.vault.config import VaultConfig
from services.vault.models import (
    EXTERNAL_EVENT_KINDS,
    Alias,
    Asset,
    AssetFile,
    AssetKind,
    AssetState,
    Eval,
    FileProgress,
    FileVerification,
    GcDecision,
    GcResult,
    LedgerEvent,
    LedgerEventKind,
    Lineage,
    MetricDirection,
    RetentionPolicy,
    Stats,
    StatsBucket,
    Upload,
    VerifyResult,
)
from services.vault.notifier import SequenceNotifier
from services.vault.paths import clean_relative_path, confined
from services.vault.retention import CheckpointFacts, plan_retention
from services.vault.uploads import UploadWriter

# States whose files must stay on disk (UPLOADING included: its deduplicated blobs are promised to it).
LIVE_STATES = (AssetState.UPLOADING, AssetState.ACTIVE, AssetState.DELETING, AssetState.CORRUPT)
# States counted in stats: the asset exists and holds bytes.
STORED_STATES = (AssetState.ACTIVE, AssetState.DELETING, AssetState.CORRUPT)
DEFAULT_POLICY = "campaigns/-"
# The policy the automatic run after a checkpoint registration applies to a campaign when neither it nor
# campaigns/- has one: the 3 newest, each skill's best, pinned ones, and nothing never evaluated.
SUPERSEDED_LABEL = ("trial", "superseded")  # set by the curriculum on checkpoints whose trial it skipped
LOOP_DEFAULT_POLICY = RetentionPolicy(campaign=DEFAULT_POLICY, keep_latest=3, keep_best_per_skill=True,
                                      keep_pinned=True, min_evals_before_delete=1, enabled=True)


def manifest_digest(files: Sequence[AssetFile]) -> str:
    lines = sorted(f"{f.path}\0{f.size_bytes}\0{f.sha256}\n" for f in files)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _placeholders(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


@dataclass
class _Tx:
    db: sqlite3.Connection
    sequences: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Download:
    file: AssetFile
    handle: BinaryIO
    offset: int


class VaultDomain:
    def __init__(self, config: VaultConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self._catalog = Catalog(config.state_dir / "catalog.sqlite3")
        self.zones = {z.name: Zone(z) for z in config.zones}
        with self._catalog.reading() as db:
            high = db.execute("SELECT COALESCE(MAX(sequence), 0) FROM ledger").fetchone()[0]
        self.notifier = SequenceNotifier(high)
        self._writers_lock = threading.Lock()
        self._active_writers: set[tuple[int, int]] = set()
        # Hash state of a part file left by a finished stream, so resuming needs no re-read.
        self._hash_cache: dict[tuple[int, int], tuple[int, Any]] = {}
        # Called (outside any transaction) with the campaign of each checkpoint that becomes ACTIVE.
        self.checkpoint_listeners: list[Callable[[str], None]] = []

    @classmethod
    def from_settings(cls, settings: Any) -> VaultDomain:
        config = VaultConfig.from_section(settings.section("vault"), data_dir=settings.data_dir, root=settings.root)
        return cls(config)

    def close(self) -> None:
        self.notifier.close()
        self._catalog.close()

    # -- plumbing ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _tx(self) -> Iterator[_Tx]:
        tx = None
        with self._catalog.transaction() as db:
            tx = _Tx(db)
            yield tx
        if tx.sequences:
            self.notifier.publish(max(tx.sequences))

    def _event(self, tx: _Tx, kind: LedgerEventKind, *, asset: sqlite3.Row | None = None, alias: str = "",
               message: str = "", attributes: Mapping[str, str] | None = None, campaign: str = "",
               hero: str = "") -> int:
        cursor = tx.db.execute(
            "INSERT INTO ledger(kind, time, asset, campaign, hero, asset_kind, alias, message, attributes)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (int(kind), self._clock(), f"assets/{asset['id']}" if asset else "",
             asset["campaign"] if asset else campaign, asset["hero"] if asset else hero,
             asset["kind"] if asset else 0, alias, message, json.dumps(dict(attributes or {}), sort_keys=True)),
        )
        tx.sequences.append(cursor.lastrowid)
        return cursor.lastrowid

    def _zone(self, name: str, field: str = "zone") -> Zone:
        zone = self.zones.get(name or self.config.default_zone)
        if zone is None:
            raise InvalidArgument(f"unknown zone {name!r}; configured: {sorted(self.zones)}", field=field)
        return zone

    def _asset_row(self, db: sqlite3.Connection, name: str, field: str = "name",
                   *, visible_only: bool = True) -> sqlite3.Row:
        """The row of an asset name or alias name; UPLOADING assets are invisible."""
        if names.is_alias_name(name):
            campaign, alias = names.split_alias(name, field)
            row = db.execute(
                "SELECT a.* FROM aliases l JOIN assets a ON a.pk = l.asset_pk WHERE l.campaign=? AND l.alias=?",
                (campaign, alias),
            ).fetchone()
        else:
            row = db.execute("SELECT * FROM assets WHERE id=?", (names.asset_id(name, field),)).fetchone()
        if row is None or (visible_only and row["state"] == AssetState.UPLOADING):
            raise NotFound(f"{name!r} does not exist", field=field)
        return row

    def _assets(self, db: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[Asset]:
        if not rows:
            return []
        pks = [r["pk"] for r in rows]
        marks = _placeholders(pks)
        files: dict[int, list[AssetFile]] = {pk: [] for pk in pks}
        zones: dict[int, set[str]] = {pk: set() for pk in pks}
        for f in db.execute(f"SELECT * FROM asset_files WHERE asset_pk IN ({marks}) ORDER BY asset_pk, idx", pks):
            files[f["asset_pk"]].append(AssetFile(f["path"], f["size_bytes"], f["sha256"]))
            zones[f["asset_pk"]].add(f["zone"])
        aliases: dict[int, list[str]] = {pk: [] for pk in pks}
        for a in db.execute(f"SELECT * FROM aliases WHERE asset_pk IN ({marks}) ORDER BY campaign, alias", pks):
            aliases[a["asset_pk"]].append(names.alias_name(a["campaign"], a["alias"]))
        evals = dict(db.execute(
            f"SELECT asset_pk, COUNT(*) FROM evals WHERE asset_pk IN ({marks}) GROUP BY asset_pk", pks).fetchall())
        return [
            Asset(
                name=f"assets/{r['id']}",
                kind=AssetKind(r["kind"]),
                state=AssetState(r["state"]),
                display_name=r["display_name"],
                files=tuple(files[r["pk"]]),
                manifest_digest=r["manifest_digest"],
                size_bytes=r["size_bytes"],
                zones=tuple(sorted(zones[r["pk"]] or {r["zone"]})),
                labels=json.loads(r["labels"]),
                lineage=_lineage_from_json(r["lineage"]),
                pinned=bool(r["pinned"]),
                aliases=tuple(aliases[r["pk"]]),
                eval_count=evals.get(r["pk"], 0),
                create_time=r["create_time"],
                verify_time=r["verify_time"],
                in_place=bool(r["in_place"]),
            )
            for r in rows
        ]

    def _asset(self, db: sqlite3.Connection, row: sqlite3.Row) -> Asset:
        return self._assets(db, [row])[0]

    def _refetch(self, db: sqlite3.Connection, pk: int) -> Asset:
        return self._asset(db, db.execute("SELECT * FROM assets WHERE pk=?", (pk,)).fetchone())

    # -- validation of declared content ------------------------------------------------------------------
    @staticmethod
    def _check_kind(kind: int, field: str = "kind") -> AssetKind:
        try:
            value = AssetKind(kind)
        except ValueError:
            raise InvalidArgument(f"unknown asset kind {kind}", field=field) from None
        if value == AssetKind.UNSPECIFIED:
            raise InvalidArgument("must be set", field=field)
        return value

    @staticmethod
    def _check_lineage(lineage: Lineage, field: str = "lineage") -> Lineage:
        if lineage.global_step < 0:
            raise InvalidArgument("must be >= 0", field=f"{field}.global_step")
        for index, source in enumerate(lineage.source_assets):
            names.asset_id(source, f"{field}.source_assets[{index}]")
        if lineage.parent_checkpoint:
            names.asset_id(lineage.parent_checkpoint, f"{field}.parent_checkpoint")
        return replace(
            lineage,
            hero=names.hero_name(lineage.hero, f"{field}.hero"),
            campaign=names.campaign_name(lineage.campaign, f"{field}.campaign"),
            source_assets=tuple(lineage.source_assets),
            metrics=dict(lineage.metrics),
        )

    @staticmethod
    def _check_labels(labels: Mapping[str, str], field: str = "labels") -> dict[str, str]:
        for key in labels:
            if not key or len(key) > 63 or not all(c.isalnum() or c in "._-/" for c in key):
                raise InvalidArgument(f"label key {key!r} must be 1-63 chars of [A-Za-z0-9._-/]", field=field)
        return dict(labels)

    @staticmethod
    def _check_files(files: Sequence[AssetFile], field: str = "files") -> list[AssetFile]:
        if not files:
            raise InvalidArgument("an asset needs at least one file", field=field)
        seen: set[str] = set()
        for index, f in enumerate(files):
            where = f"{field}[{index}]"
            clean_relative_path(f.path, f"{where}.path")
            if f.path in seen:
                raise InvalidArgument(f"duplicate path {f.path!r}", field=f"{where}.path")
            seen.add(f.path)
            if f.size_bytes < 0:
                raise InvalidArgument("must be >= 0", field=f"{where}.size_bytes")
            names.check_sha256(f.sha256, f"{where}.sha256")
            if f.size_bytes == 0 and f.sha256 != EMPTY_SHA256:
                raise InvalidArgument("an empty file has sha256 " + EMPTY_SHA256, field=f"{where}.sha256")
        return list(files)

    def _insert_asset(self, db: sqlite3.Connection, *, kind: AssetKind, state: AssetState, display_name: str,
                      zone: str, files: Sequence[AssetFile], locations: Sequence[str], lineage: Lineage,
                      labels: Mapping[str, str], in_place: bool) -> sqlite3.Row:
        asset_id = uuid.uuid4().hex[:20]
        cursor = db.execute(
            "INSERT INTO assets(id, kind, state, display_name, zone, manifest_digest, size_bytes, labels, hero,"
            " campaign, global_step, lineage, in_place, create_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (asset_id, int(kind), int(state), display_name, zone, manifest_digest(files),
             sum(f.size_bytes for f in files), json.dumps(dict(labels), sort_keys=True), lineage.hero,
             lineage.campaign, lineage.global_step, _lineage_to_json(lineage), int(in_place), self._clock()),
        )
        db.executemany(
            "INSERT INTO asset_files(asset_pk, idx, path, size_bytes, sha256, zone, location) VALUES (?,?,?,?,?,?,?)",
            [(cursor.lastrowid, i, f.path, f.size_bytes, f.sha256, zone, loc)
             for i, (f, loc) in enumerate(zip(files, locations, strict=True))],
        )
        return db.execute("SELECT * FROM assets WHERE pk=?", (cursor.lastrowid,)).fetchone()

    @staticmethod
    def _blob_is_live(db: sqlite3.Connection, zone: str, location: str, *, except_pk: int | None = None) -> bool:
        states = [int(s) for s in LIVE_STATES]
        row = db.execute(
            "SELECT 1 FROM asset_files f JOIN assets a ON a.pk = f.asset_pk WHERE f.zone=? AND f.location=?"
            f" AND a.state IN ({_placeholders(states)}) AND a.pk != ? LIMIT 1",
            (zone, location, *states, except_pk if except_pk is not None else -1),
        ).fetchone()
        return row is not None

    # -- uploads ------------------------------------------------------------------------------------------
    def create_upload(self, *, kind: int, files: Sequence[AssetFile], lineage: Lineage | None = None,
                      labels: Mapping[str, str] | None = None, zone: str = "", display_name: str = "",
                      request_id: str = "") -> Upload:
        asset_kind = self._check_kind(kind)
        files = self._check_files(files)
        lineage = self._check_lineage(lineage or Lineage())
        labels = self._check_labels(labels or {})
        store = self._zone(zone)
        if len(request_id) > 128:
            raise InvalidArgument("must be at most 128 characters", field="request_id")
        with self._tx() as tx:
            db = tx.db
            if request_id:
                row = db.execute("SELECT * FROM uploads WHERE request_id=?", (request_id,)).fetchone()
                if row is not None:
                    return self._upload(db, row)
            locations = [store.blob_location(f.sha256) for f in files]
            asset = self._insert_asset(db, kind=asset_kind, state=AssetState.UPLOADING, display_name=display_name,
                                       zone=store.name, files=files, locations=locations, lineage=lineage,
                                       labels=labels, in_place=False)
            upload_id = uuid.uuid4().hex[:20]
            cursor = db.execute(
                "INSERT INTO uploads(id, asset_pk, request_id, state, create_time) VALUES (?,?,?,'open',?)",
                (upload_id, asset["pk"], request_id or None, self._clock()),
            )
            rows = []
            for index, (f, location) in enumerate(zip(files, locations, strict=True)):
                # Dedup: the blob is stored and a live asset vouches for it (the upload itself now does too).
                stored = (self._blob_is_live(db, store.name, location, except_pk=asset["pk"])
                          and _size_of(store.absolute(location)) == f.size_bytes)
                rows.append((cursor.lastrowid, index, f.size_bytes if stored else 0, int(stored), int(stored)))
            db.executemany("INSERT INTO upload_files(upload_pk, idx, received_bytes, already_stored, verified)"
                           " VALUES (?,?,?,?,?)", rows)
            return self._upload(db, db.execute("SELECT * FROM uploads WHERE pk=?", (cursor.lastrowid,)).fetchone())

    def _upload(self, db: sqlite3.Connection, row: sqlite3.Row) -> Upload:
        asset_id = db.execute("SELECT id FROM assets WHERE pk=?", (row["asset_pk"],)).fetchone()[0]
        progress = [
            FileProgress(r["path"], r["size_bytes"], r["received_bytes"], bool(r["already_stored"]))
            for r in db.execute(
                "SELECT f.path, f.size_bytes, u.received_bytes, u.already_stored FROM upload_files u"
                " JOIN asset_files f ON f.asset_pk=? AND f.idx=u.idx WHERE u.upload_pk=? ORDER BY u.idx",
                (row["asset_pk"], row["pk"]),
            )
        ]
        return Upload(f"uploads/{row['id']}", f"assets/{asset_id}", tuple(progress), row["state"] == "committed")

    def _upload_row(self, db: sqlite3.Connection, name: str, field: str = "name") -> sqlite3.Row:
        row = db.execute("SELECT * FROM uploads WHERE id=?", (names.upload_id(name, field),)).fetchone()
        if row is None:
            raise NotFound(f"{name!r} does not exist", field=field)
        return row

    def get_upload(self, name: str) -> Upload:
        with self._catalog.reading() as db:
            return self._upload(db, self._upload_row(db, name))

    def open_writer(self, upload: str, path: str, offset: int) -> UploadWriter:
        """Start writing one file of an open upload at `offset` (which must equal its received_bytes)."""
        with self._catalog.reading() as db:
            row = self._upload_row(db, upload, "header.upload")
            if row["state"] != "open":
                raise FailedPrecondition(f"upload is {row['state']}", field="header.upload")
            f = db.execute("SELECT * FROM asset_files WHERE asset_pk=? AND path=?",
                           (row["asset_pk"], path)).fetchone()
            if f is None:
                raise NotFound(f"{path!r} is not a file of this upload", field="header.path")
            progress = db.execute("SELECT * FROM upload_files WHERE upload_pk=? AND idx=?",
                                  (row["pk"], f["idx"])).fetchone()
            if offset != progress["received_bytes"]:
                raise FailedPrecondition(
                    f"must equal received_bytes={progress['received_bytes']} (ask GetUpload, then resume)",
                    field="header.offset")
            key = (row["pk"], f["idx"])
            with self._writers_lock:
                if key in self._active_writers:
                    raise Aborted(f"{path!r} is being written by another stream", field="header.path")
                self._active_writers.add(key)
        try:
            part = self.zones[f["zone"]].part_path(row["id"], f["idx"])
            return UploadWriter(self, key, f["path"], f["size_bytes"], f["sha256"], part, offset,
                                done=bool(progress["verified"]))
        except BaseException:
            self._release_writer(key)
            raise

    def _release_writer(self, key: tuple[int, int]) -> None:
        with self._writers_lock:
            self._active_writers.discard(key)

    def _record_progress(self, key: tuple[int, int], received: int, verified: bool) -> None:
        with self._tx() as tx:
            tx.db.execute("UPDATE upload_files SET received_bytes=?, verified=? WHERE upload_pk=? AND idx=?",
                          (received, int(verified), *key))

    def commit_upload(self, name: str) -> Asset:
        """Install every file (verified while written) into the blob store, then make the asset ACTIVE."""
        with self._catalog.lock:
            with self._catalog.reading() as db:
                row = self._upload_row(db, name)
                if row["state"] == "committed":
                    return self._refetch(db, row["asset_pk"])
                if row["state"] != "open":
                    raise FailedPrecondition(f"upload is {row['state']}", field="name")
                files = db.execute(
                    "SELECT f.*, u.received_bytes, u.already_stored, u.verified FROM asset_files f JOIN"
                    " upload_files u ON u.upload_pk=? AND u.idx=f.idx WHERE f.asset_pk=? ORDER BY f.idx",
                    (row["pk"], row["asset_pk"])).fetchall()
            for f in files:
                if (row["pk"], f["idx"]) in self._active_writers:
                    raise FailedPrecondition(f"{f['path']!r} is still being written", field="name")
            zone = self.zones[files[0]["zone"]]
            for f in files:
                blob = zone.absolute(f["location"])
                if _size_of(blob) == f["size_bytes"] and (f["already_stored"] or f["verified"]):
                    continue  # deduplicated, or installed by an earlier commit attempt that crashed
                if f["size_bytes"] == 0:
                    write_empty_blob(blob)
                    continue
                part = zone.part_path(row["id"], f["idx"])
                if not f["verified"] or _size_of(part) != f["size_bytes"]:
                    raise FailedPrecondition(
                        f"file {f['path']!r} is incomplete: {f['received_bytes']} of {f['size_bytes']} bytes",
                        field="name")
                install_blob(part, blob)
            with self._tx() as tx:
                tx.db.execute("UPDATE uploads SET state='committed' WHERE pk=?", (row["pk"],))
                asset = tx.db.execute("SELECT * FROM assets WHERE pk=?", (row["asset_pk"],)).fetchone()
                self._activate(tx, asset)
                result = self._refetch(tx.db, row["asset_pk"])
            shutil.rmtree(zone.staging_dir(row["id"]), ignore_errors=True)
            for f in files:
                self._hash_cache.pop((row["pk"], f["idx"]), None)
        self._checkpoint_registered(result)
        return result

    def _activate(self, tx: _Tx, asset: sqlite3.Row) -> None:
        tx.db.execute("UPDATE assets SET state=? WHERE pk=?", (int(AssetState.ACTIVE), asset["pk"]))
        self._event(tx, LedgerEventKind.REGISTERED, asset=asset, message=asset["display_name"],
                    attributes={"manifest_digest": asset["manifest_digest"], "size_bytes": str(asset["size_bytes"]),
                                "global_step": str(asset["global_step"])})
        if asset["kind"] == AssetKind.CHECKPOINT and asset["campaign"]:
            current = tx.db.execute(
                "SELECT a.global_step FROM aliases l JOIN assets a ON a.pk=l.asset_pk"
                " WHERE l.campaign=? AND l.alias='latest'", (asset["campaign"],)).fetchone()
            if current is None or asset["global_step"] >= current[0]:
                self._move_alias(tx, asset["campaign"], "latest", asset, system=True)

    def _checkpoint_registered(self, asset: Asset) -> None:
        if asset.kind == AssetKind.CHECKPOINT and asset.lineage.campaign:
            for listener in self.checkpoint_listeners:
                listener(asset.lineage.campaign)

    def abort_upload(self, name: str) -> None:
        with self._catalog.lock:
            with self._tx() as tx:
                row = self._upload_row(tx.db, name)
                if row["state"] == "committed":
                    raise FailedPrecondition("upload is already committed", field="name")
                if row["state"] == "aborted":
                    return
                tx.db.execute("UPDATE uploads SET state='aborted' WHERE pk=?", (row["pk"],))
                # Never visible, so no ledger event; its dedup promises end here.
                tx.db.execute("UPDATE assets SET state=? WHERE pk=?", (int(AssetState.DELETED), row["asset_pk"]))
                zone_name = tx.db.execute("SELECT zone FROM assets WHERE pk=?", (row["asset_pk"],)).fetchone()[0]
                # A commit that crashed after installing blobs leaves them referenced only by this upload.
                for (location,) in tx.db.execute("SELECT DISTINCT location FROM asset_files WHERE asset_pk=?",
                                                 (row["asset_pk"],)).fetchall():
                    if not self._blob_is_live(tx.db, zone_name, location):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(self.zones[zone_name].absolute(location))
            shutil.rmtree(self.zones[zone_name].staging_dir(row["id"]), ignore_errors=True)

    # -- register in place --------------------------------------------------------------------------------
    def register_in_place(self, *, zone: str, path: str, kind: int, display_name: str = "",
                          lineage: Lineage | None = None, labels: Mapping[str, str] | None = None) -> Asset:
        asset_kind = self._check_kind(kind)
        lineage = self._check_lineage(lineage or Lineage())
        labels = self._check_labels(labels or {})
        store = self._zone(zone)
        clean_relative_path(path.rstrip("/"), "path")
        target = confined(store.root, path.rstrip("/"), "path")
        relative_target = target.relative_to(store.root).as_posix()
        if store.is_reserved(relative_target):
            raise InvalidArgument(f"{path!r} is inside the vault's own blob/staging area", field="path")
        if not target.exists():
            raise NotFound(f"{path!r} does not exist in zone {store.name!r}", field="path")
        entries: list[tuple[str, Path]] = []  # (path inside the asset, real file)
        if target.is_file():
            entries.append((target.name, target))
        else:
            for directory, subdirs, filenames in os.walk(target, followlinks=False):
                subdirs.sort()
                for sub in list(subdirs):
                    if os.path.islink(os.path.join(directory, sub)):
                        raise InvalidArgument(f"{sub!r} under {path!r} is a symlinked directory", field="path")
                for filename in sorted(filenames):
                    full = Path(directory, filename)
                    inner = full.relative_to(target).as_posix()
                    real = confined(store.root, full.relative_to(store.root).as_posix(), "path")
                    if not real.is_file():
                        raise InvalidArgument(f"{inner!r} is not a regular file", field="path")
                    entries.append((inner, real))
        if not entries:
            raise InvalidArgument(f"{path!r} contains no files", field="path")
        files, locations = [], []
        for inner, real in entries:  # hashing is the slow part: done without the catalog lock
            hasher, size = hash_file(real)
            files.append(AssetFile(inner, size, hasher.hexdigest()))
            locations.append(real.relative_to(store.root).as_posix())
        with self._tx() as tx:
            for location in locations:
                if self._blob_is_live(tx.db, store.name, location):
                    raise AlreadyExists(f"{location!r} is already registered by a live asset", field="path")
            row = self._insert_asset(tx.db, kind=asset_kind, state=AssetState.UPLOADING,
                                     display_name=display_name or target.name, zone=store.name, files=files,
                                     locations=locations, lineage=lineage, labels=labels, in_place=True)
            tx.db.execute("UPDATE assets SET verify_time=? WHERE pk=?", (self._clock(), row["pk"]))
            self._activate(tx, row)
            result = self._refetch(tx.db, row["pk"])
        self._checkpoint_registered(result)
        return result

    # -- reads --------------------------------------------------------------------------------------------
    def get_asset(self, name: str) -> Asset:
        with self._catalog.reading() as db:
            return self._asset(db, self._asset_row(db, name))

    def list_assets(self, *, page_size_: int = 0, page_token: str = "", kind: int = 0, campaign: str = "",
                    hero: str = "", show_deleted: bool = False, labels: Mapping[str, str] | None = None
                    ) -> tuple[list[Asset], str, int]:
        size = page_size(page_size_)
        campaign = names.campaign_name(campaign, "campaign")
        hero = names.hero_name(hero, "hero")
        labels = dict(labels or {})
        filters = {"kind": kind, "campaign": campaign, "hero": hero, "deleted": show_deleted, "labels": labels}
        before = decode_token(page_token, filters)
        states = [AssetState.ACTIVE, AssetState.CORRUPT, AssetState.DELETING]
        if show_deleted:
            states.append(AssetState.DELETED)
        where = [f"state IN ({_placeholders(states)})"]
        args: list[Any] = [int(s) for s in states]
        if kind:
            where.append("kind=?")
            args.append(int(self._check_kind(kind)))
        if campaign:
            where.append("campaign=?")
            args.append(campaign)
        if hero:
            where.append("hero=?")
            args.append(hero)
        for key, value in labels.items():
            where.append("json_extract(labels, ?) = ?")
            args += [f'$."{key}"', value]
        clause = " AND ".join(where)
        with self._catalog.reading() as db:
            total = db.execute(f"SELECT COUNT(*) FROM assets WHERE {clause}", args).fetchone()[0]
            page_clause = clause + (" AND pk < ?" if before is not None else "")
            page_args = args + ([int(before)] if before is not None else [])
            rows = db.execute(f"SELECT * FROM assets WHERE {page_clause} ORDER BY pk DESC LIMIT ?",
                              [*page_args, size + 1]).fetchall()
            token = encode_token(rows[size - 1]["pk"], filters) if len(rows) > size else ""
            return self._assets(db, rows[:size]), token, total

    def query_checkpoints(self, *, page_size_: int = 0, page_token: str = "", hero: str = "", campaign: str = "",
                          skill: str = "", order_by: str = "", min_global_step: int = 0, level: int = 0
                          ) -> tuple[list[tuple[Asset, Eval | None]], str]:
        size = page_size(page_size_)
        hero = names.hero_name(hero, "hero")
        campaign = names.campaign_name(campaign, "campaign")
        order_by = order_by or "global_step"
        if order_by not in ("global_step", "accuracy"):
            raise InvalidArgument("must be 'global_step' or 'accuracy'", field="order_by")
        if order_by == "accuracy" and not skill:
            raise InvalidArgument("ordering by accuracy needs a skill", field="skill")
        if min_global_step < 0:
            raise InvalidArgument("must be >= 0", field="min_global_step")
        if level < 0:
            raise InvalidArgument("must be >= 0", field="level")
        if level and not skill:
            raise InvalidArgument("filtering by level needs a skill", field="level")
        filters = {"hero": hero, "campaign": campaign, "skill": skill, "order": order_by,
                   "min_step": min_global_step, "level": level}
        offset = int(decode_token(page_token, filters) or 0)
        where = ["a.kind=?", "a.state=?", "a.global_step>=?"]
        args: list[Any] = [int(AssetKind.CHECKPOINT), int(AssetState.ACTIVE), min_global_step]
        if hero:
            where.append("a.hero=?")
            args.append(hero)
        if campaign:
            where.append("a.campaign=?")
            args.append(campaign)
        eval_filter = "e.asset_pk=a.pk AND e.skill=?" + (" AND e.level=?" if level else "")
        eval_args: list[Any] = [skill] + ([level] if level else [])
        if skill:
            best = f"(SELECT MAX(e.accuracy) FROM evals e WHERE {eval_filter})"
            where.append(f"{best} IS NOT NULL")
            args = eval_args + args + eval_args
            select = f"SELECT a.*, {best} AS best FROM assets a"
        else:
            select = "SELECT a.*, NULL AS best FROM assets a"
        order = "best DESC, a.global_step DESC, a.pk DESC" if order_by == "accuracy" else \
            "a.global_step DESC, a.pk DESC"
        sql = f"{select} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ? OFFSET ?"
        with self._catalog.reading() as db:
            rows = db.execute(sql, [*args, size + 1, offset]).fetchall()
            assets = self._assets(db, rows[:size])
            results = []
            for row, asset in zip(rows[:size], assets, strict=True):
                best_eval = None
                if skill:
                    e = db.execute(f"SELECT e.* FROM evals e, assets a WHERE a.pk=? AND {eval_filter}"
                                   " ORDER BY e.accuracy DESC, e.pk DESC LIMIT 1",
                                   [row["pk"], *eval_args]).fetchone()
                    best_eval = _eval_from_row(e, asset.name)
                results.append((asset, best_eval))
        token = encode_token(offset + size, filters) if len(rows) > size else ""
        return results, token

    def open_download(self, asset: str, path: str, offset: int = 0) -> Download:
        with self._catalog.reading() as db:
            row = self._asset_row(db, asset, "asset")
            if row["state"] != AssetState.ACTIVE:
                raise FailedPrecondition(f"asset is {AssetState(row['state']).name}; downloads are refused",
                                         field="asset")
            f = db.execute("SELECT * FROM asset_files WHERE asset_pk=? AND path=?", (row["pk"], path)).fetchone()
            if f is None:
                raise NotFound(f"{path!r} is not a file of {asset}", field="path")
            if offset < 0 or offset > f["size_bytes"]:
                raise InvalidArgument(f"must be within 0..{f['size_bytes']}", field="offset")
            # Opened under the lock: a concurrent GC may unlink the name later, the open handle stays valid.
            handle = open(self.zones[f["zone"]].absolute(f["location"]), "rb")  # noqa: SIM115
        handle.seek(offset)
        return Download(AssetFile(f["path"], f["size_bytes"], f["sha256"]), handle, offset)

    def update_labels(self, name: str, set_labels: Mapping[str, str], remove: Sequence[str]) -> Asset:
        set_labels = self._check_labels(set_labels, "set_labels")
        with self._tx() as tx:
            row = self._asset_row(tx.db, name)
            labels = json.loads(row["labels"])
            for key in remove:
                labels.pop(key, None)
            labels.update(set_labels)
            tx.db.execute("UPDATE assets SET labels=? WHERE pk=?", (json.dumps(labels, sort_keys=True), row["pk"]))
            return self._refetch(tx.db, row["pk"])

    # -- aliases and pins ---------------------------------------------------------------------------------
    def _move_alias(self, tx: _Tx, campaign: str, alias: str, asset: sqlite3.Row, *, system: bool,
                    metric: str = "", value: float = 0.0, direction: MetricDirection = MetricDirection.UNSPECIFIED
                    ) -> None:
        tx.db.execute(
            "INSERT INTO aliases(campaign, alias, asset_pk, system, metric, metric_value, direction, update_time)"
            " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(campaign, alias) DO UPDATE SET asset_pk=excluded.asset_pk,"
            " system=excluded.system, metric=excluded.metric, metric_value=excluded.metric_value,"
            " direction=excluded.direction, update_time=excluded.update_time",
            (campaign, alias, asset["pk"], int(system), metric, value, int(direction), self._clock()),
        )
        attributes = {"metric": metric, "metric_value": repr(value)} if metric else {}
        self._event(tx, LedgerEventKind.ALIAS_MOVED, asset=asset, alias=names.alias_name(campaign, alias),
                    attributes=attributes, campaign=campaign)

    def _alias(self, db: sqlite3.Connection, campaign: str, alias: str) -> Alias | None:
        row = db.execute("SELECT l.*, a.id FROM aliases l JOIN assets a ON a.pk=l.asset_pk"
                         " WHERE l.campaign=? AND l.alias=?", (campaign, alias)).fetchone()
        return _alias_from_row(row) if row else None

    def set_alias(self, alias: Alias, only_if_better: bool = False) -> tuple[Alias, bool]:
        campaign, alias_id = names.split_alias(alias.name, "alias.name")
        if alias_id in names.SYSTEM_ALIASES:
            raise InvalidArgument(f"{alias_id!r} is system-managed", field="alias.name")
        best = alias_id.startswith(names.BEST_PREFIX)
        direction = MetricDirection(alias.direction)
        if best:
            if not alias.metric:
                raise InvalidArgument("best/... aliases record the metric they rank by", field="alias.metric")
            if direction == MetricDirection.UNSPECIFIED:
                raise InvalidArgument("best/... aliases need MAXIMIZE or MINIMIZE", field="alias.direction")
        elif only_if_better:
            raise InvalidArgument("only best/... aliases compare metrics", field="only_if_better")
        with self._tx() as tx:
            target = self._asset_row(tx.db, alias.asset, "alias.asset")
            if target["state"] != AssetState.ACTIVE:
                raise FailedPrecondition(f"asset is {AssetState(target['state']).name}", field="alias.asset")
            if target["campaign"] and target["campaign"] != campaign:
                raise InvalidArgument(f"asset belongs to {target['campaign']}, not {campaign}", field="alias.asset")
            current = self._alias(tx.db, campaign, alias_id)
            if current and only_if_better and current.metric == alias.metric:
                better = (alias.metric_value > current.metric_value if direction == MetricDirection.MAXIMIZE
                          else alias.metric_value < current.metric_value)
                if not better:
                    return current, False
            if current and current.asset == f"assets/{target['id']}" and current.metric_value == alias.metric_value:
                return current, False
            self._move_alias(tx, campaign, alias_id, target, system=best, metric=alias.metric,
                             value=alias.metric_value, direction=direction)
            return self._alias(tx.db, campaign, alias_id), True  # type: ignore[return-value]

    def resolve_alias(self, name: str) -> tuple[Alias, Asset]:
        campaign, alias_id = names.split_alias(name, "name")
        with self._catalog.reading() as db:
            alias = self._alias(db, campaign, alias_id)
            if alias is None:
                raise NotFound(f"{name!r} does not exist", field="name")
            return alias, self._asset(db, self._asset_row(db, alias.asset))

    def list_aliases(self, campaign: str, page_size_: int = 0, page_token: str = "") -> tuple[list[Alias], str]:
        campaign = names.campaign_name(campaign, "campaign")
        if not campaign:
            raise InvalidArgument("must be campaigns/{campaign}", field="campaign")
        size = page_size(page_size_)
        after = decode_token(page_token, {"campaign": campaign}) or ""
        with self._catalog.reading() as db:
            rows = db.execute("SELECT l.*, a.id FROM aliases l JOIN assets a ON a.pk=l.asset_pk"
                              " WHERE l.campaign=? AND l.alias>? ORDER BY l.alias LIMIT ?",
                              (campaign, after, size + 1)).fetchall()
        token = encode_token(rows[size - 1]["alias"], {"campaign": campaign}) if len(rows) > size else ""
        return [_alias_from_row(r) for r in rows[:size]], token

    def delete_alias(self, name: str) -> None:
        campaign, alias_id = names.split_alias(name, "name")
        if alias_id in names.SYSTEM_ALIASES:
            raise InvalidArgument(f"{alias_id!r} is system-managed", field="name")
        with self._tx() as tx:
            row = tx.db.execute("SELECT a.* FROM aliases l JOIN assets a ON a.pk=l.asset_pk"
                                " WHERE l.campaign=? AND l.alias=?", (campaign, alias_id)).fetchone()
            if row is None:
                raise NotFound(f"{name!r} does not exist", field="name")
            tx.db.execute("DELETE FROM aliases WHERE campaign=? AND alias=?", (campaign, alias_id))
            self._event(tx, LedgerEventKind.ALIAS_DELETED, asset=row, alias=name, campaign=campaign)

    def set_pinned(self, name: str, pinned: bool, note: str = "") -> Asset:
        with self._tx() as tx:
            row = self._asset_row(tx.db, name)
            if row["state"] not in (AssetState.ACTIVE, AssetState.CORRUPT):
                raise FailedPrecondition(f"asset is {AssetState(row['state']).name}", field="name")
            if bool(row["pinned"]) != pinned:
                tx.db.execute("UPDATE assets SET pinned=?, pin_note=? WHERE pk=?", (int(pinned), note, row["pk"]))
                self._event(tx, LedgerEventKind.PINNED if pinned else LedgerEventKind.UNPINNED, asset=row,
                            message=note)
            return self._refetch(tx.db, row["pk"])

    # -- evals --------------------------------------------------------------------------------------------
    def attach_eval(self, asset: str, ev: Eval) -> Eval:
        if not ev.skill:
            raise InvalidArgument("must be set", field="eval.skill")
        if not 0.0 <= ev.accuracy <= 1.0:
            raise InvalidArgument("must be within 0..1", field="eval.accuracy")
        if ev.total < 0 or ev.correct < 0 or ev.correct > ev.total:
            raise InvalidArgument("needs 0 <= correct <= total", field="eval.correct")
        if ev.level < 0:
            raise InvalidArgument("must be >= 0", field="eval.level")
        with self._tx() as tx:
            row = self._asset_row(tx.db, asset, "asset")
            if row["kind"] != AssetKind.CHECKPOINT or row["state"] != AssetState.ACTIVE:
                raise FailedPrecondition("evals attach to ACTIVE checkpoints", field="asset")
            if ev.report_asset:
                self._asset_row(tx.db, ev.report_asset, "eval.report_asset")
            eval_id = uuid.uuid4().hex[:16]
            tx.db.execute(
                "INSERT INTO evals(id, asset_pk, skill, level, accuracy, correct, total, report_asset, regime,"
                " eval_set_hash, metrics, create_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (eval_id, row["pk"], ev.skill, ev.level, ev.accuracy, ev.correct, ev.total, ev.report_asset,
                 ev.regime, ev.eval_set_hash, json.dumps(dict(ev.metrics)), self._clock()))
            self._event(tx, LedgerEventKind.EVAL_ATTACHED, asset=row,
                        attributes={"skill": ev.skill, "level": str(ev.level), "accuracy": repr(ev.accuracy)})
            e = tx.db.execute("SELECT * FROM evals WHERE id=?", (eval_id,)).fetchone()
            return _eval_from_row(e, f"assets/{row['id']}")

    def list_evals(self, *, page_size_: int = 0, page_token: str = "", asset: str = "", campaign: str = "",
                   skill: str = "") -> tuple[list[Eval], str]:
        size = page_size(page_size_)
        campaign = names.campaign_name(campaign, "campaign")
        filters = {"asset": asset, "campaign": campaign, "skill": skill}
        after = int(decode_token(page_token, filters) or 0)
        where, args = ["e.pk > ?"], [after]
        with self._catalog.reading() as db:
            if asset:
                where.append("e.asset_pk=?")
                args.append(self._asset_row(db, asset, "asset")["pk"])
            if campaign:
                where.append("a.campaign=?")
                args.append(campaign)
            if skill:
                where.append("e.skill=?")
                args.append(skill)
            rows = db.execute(f"SELECT e.*, a.id AS asset_id FROM evals e JOIN assets a ON a.pk=e.asset_pk"
                              f" WHERE {' AND '.join(where)} ORDER BY e.pk LIMIT ?", [*args, size + 1]).fetchall()
        token = encode_token(rows[size - 1]["pk"], filters) if len(rows) > size else ""
        return [_eval_from_row(r, f"assets/{r['asset_id']}") for r in rows[:size]], token

    # -- ledger -------------------------------------------------------------------------------------------
    def ledger_events(self, *, after_sequence: int = 0, campaign: str = "", kinds: Sequence[int] = (),
                      limit: int = 500, up_to: int | None = None) -> list[LedgerEvent]:
        campaign = names.campaign_name(campaign, "campaign")
        if after_sequence < 0:
            raise InvalidArgument("must be >= 0", field="after_sequence")
        where, args = ["sequence > ?"], [after_sequence]
        if up_to is not None:
            where.append("sequence <= ?")
            args.append(up_to)
        if campaign:
            where.append("campaign=?")
            args.append(campaign)
        if kinds:
            where.append(f"kind IN ({_placeholders(kinds)})")
            args += [int(k) for k in kinds]
        with self._catalog.reading() as db:
            rows = db.execute(f"SELECT * FROM ledger WHERE {' AND '.join(where)} ORDER BY sequence LIMIT ?",
                              [*args, limit]).fetchall()
        return [_event_from_row(r) for r in rows]

    def list_ledger(self, *, page_size_: int = 0, page_token: str = "", after_sequence: int = 0,
                    campaign: str = "") -> tuple[list[LedgerEvent], str]:
        size = page_size(page_size_)
        filters = {"after": after_sequence, "campaign": campaign}
        after = decode_token(page_token, filters)
        events = self.ledger_events(after_sequence=after_sequence if after is None else int(after),
                                    campaign=campaign, limit=size + 1)
        token = encode_token(events[size - 1].sequence, filters) if len(events) > size else ""
        return events[:size], token

    def append_event(self, event: LedgerEvent, idempotency_key: str = "") -> LedgerEvent:
        """Append a caller's event; with `idempotency_key`, a repeat returns the event the key first appended."""
        if len(idempotency_key) > 256:
            raise InvalidArgument("at most 256 characters", field="idempotency_key")
        try:
            kind = LedgerEventKind(event.kind)
        except ValueError:
            raise InvalidArgument(f"unknown kind {event.kind}", field="event.kind") from None
        if kind not in EXTERNAL_EVENT_KINDS:
            raise InvalidArgument("only LEVEL_UP and NOTE events may be appended by callers", field="event.kind")
        campaign = names.campaign_name(event.campaign, "event.campaign")
        hero = names.hero_name(event.hero, "event.hero")
        with self._tx() as tx:
            if idempotency_key:
                seen = tx.db.execute("SELECT sequence FROM ledger_keys WHERE key=?", (idempotency_key,)).fetchone()
                if seen is not None:
                    return _event_from_row(tx.db.execute("SELECT * FROM ledger WHERE sequence=?",
                                                         (seen[0],)).fetchone())
            row = self._asset_row(tx.db, event.asset, "event.asset") if event.asset else None
            sequence = self._event(tx, kind, asset=row, alias=event.alias, message=event.message,
                                   attributes=event.attributes, campaign=campaign, hero=hero)
            if idempotency_key:
                tx.db.execute("INSERT INTO ledger_keys(key, sequence) VALUES (?, ?)", (idempotency_key, sequence))
            return _event_from_row(tx.db.execute("SELECT * FROM ledger WHERE sequence=?", (sequence,)).fetchone())

    def high_sequence(self) -> int:
        with self._catalog.reading() as db:
            return db.execute("SELECT COALESCE(MAX(sequence), 0) FROM ledger").fetchone()[0]

    # -- deletion -----------------------------------------------------------------------------------------
    def delete_asset(self, name: str, force: bool = False) -> Asset:
        with self._catalog.lock:
            with self._tx() as tx:
                row = self._asset_row(tx.db, name)
                if row["state"] == AssetState.DELETED:
                    return self._refetch(tx.db, row["pk"])
                already_deleting = row["state"] == AssetState.DELETING
                aliases = tx.db.execute("SELECT campaign, alias FROM aliases WHERE asset_pk=?",
                                        (row["pk"],)).fetchall()
                if not force and not already_deleting and (row["pinned"] or aliases):
                    held = ["pinned"] * bool(row["pinned"]) + [names.alias_name(*a) for a in aliases]
                    raise FailedPrecondition(f"held by {', '.join(held)}; use force", field="name")
                if not already_deleting:  # an interrupted deletion just resumes at phase 2
                    self._mark_deleting(tx, row, reason="requested" + (" (forced)" if force else ""))
            self._finish_deletion(row["pk"])
            with self._catalog.reading() as db:
                return self._refetch(db, row["pk"])

    def _mark_deleting(self, tx: _Tx, row: sqlite3.Row, reason: str) -> None:
        """Phase 1: the asset leaves every view; its aliases go with it."""
        for a in tx.db.execute("SELECT campaign, alias FROM aliases WHERE asset_pk=?", (row["pk"],)).fetchall():
            tx.db.execute("DELETE FROM aliases WHERE campaign=? AND alias=?", (a["campaign"], a["alias"]))
            self._event(tx, LedgerEventKind.ALIAS_DELETED, asset=row, alias=names.alias_name(*a),
                        campaign=a["campaign"])
        tx.db.execute("UPDATE assets SET state=? WHERE pk=?", (int(AssetState.DELETING), row["pk"]))
        self._event(tx, LedgerEventKind.DELETING, asset=row, message=reason)

    def _finish_deletion(self, pk: int) -> int:
        """Phase 2, idempotent: remove files no other live asset references, then mark DELETED."""
        with self._catalog.lock:
            with self._catalog.reading() as db:
                row = db.execute("SELECT * FROM assets WHERE pk=?", (pk,)).fetchone()
                if row["state"] != AssetState.DELETING:
                    return 0
                files = db.execute("SELECT DISTINCT zone, location, size_bytes FROM asset_files WHERE asset_pk=?",
                                   (pk,)).fetchall()
                freed = 0
                for f in files:
                    if self._blob_is_live(db, f["zone"], f["location"], except_pk=pk):
                        continue
                    path = self.zones[f["zone"]].absolute(f["location"])
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                        freed += f["size_bytes"]
            with self._tx() as tx:
                tx.db.execute("UPDATE assets SET state=? WHERE pk=?", (int(AssetState.DELETED), pk))
                self._event(tx, LedgerEventKind.DELETED, asset=row, attributes={"freed_bytes": str(freed)})
            return freed

    # -- retention ----------------------------------------------------------------------------------------
    def set_policy(self, policy: RetentionPolicy) -> RetentionPolicy:
        campaign = names.campaign_name(policy.campaign, "policy.campaign", allow_default=True)
        if not campaign:
            raise InvalidArgument("must be campaigns/{campaign} or campaigns/-", field="policy.campaign")
        for field_name in ("keep_latest", "min_evals_before_delete", "keep_newer_than_s"):
            if getattr(policy, field_name) < 0:
                raise InvalidArgument("must be >= 0", field=f"policy.{field_name.removesuffix('_s')}")
        for zone, cap in policy.zone_byte_caps.items():
            self._zone(zone, "policy.zone_byte_caps")
            if cap < 0:
                raise InvalidArgument(f"cap for {zone!r} must be >= 0", field="policy.zone_byte_caps")
        policy = replace(policy, campaign=campaign, zone_byte_caps=dict(policy.zone_byte_caps))
        with self._tx() as tx:
            tx.db.execute("INSERT INTO retention_policies(campaign, policy) VALUES (?, ?) ON CONFLICT(campaign)"
                          " DO UPDATE SET policy=excluded.policy", (campaign, json.dumps(asdict(policy))))
        return policy

    def get_policy(self, campaign: str) -> RetentionPolicy:
        campaign = names.campaign_name(campaign, "campaign", allow_default=True)
        with self._catalog.reading() as db:
            row = db.execute("SELECT policy FROM retention_policies WHERE campaign=?", (campaign,)).fetchone()
        if row is None:
            raise NotFound(f"no retention policy for {campaign!r}", field="campaign")
        return RetentionPolicy(**json.loads(row[0]))

    def _policies(self, db: sqlite3.Connection, campaign: str) -> dict[str, RetentionPolicy]:
        stored = {r[0]: RetentionPolicy(**json.loads(r[1]))
                  for r in db.execute("SELECT campaign, policy FROM retention_policies")}
        default = stored.pop(DEFAULT_POLICY, None)
        if campaign:
            chosen = stored.get(campaign) or default
            return {campaign: chosen} if chosen else {}
        if default is not None:
            for (c,) in db.execute("SELECT DISTINCT campaign FROM assets WHERE kind=? AND campaign != ''",
                                   (int(AssetKind.CHECKPOINT),)):
                stored.setdefault(c, default)
        return stored

    def _references(self, db: sqlite3.Connection) -> dict[tuple[str, str], frozenset[str]]:
        states = [int(s) for s in LIVE_STATES]
        refs: dict[tuple[str, str], set[str]] = {}
        for r in db.execute("SELECT f.zone, f.location, a.id FROM asset_files f JOIN assets a ON a.pk=f.asset_pk"
                            f" WHERE a.state IN ({_placeholders(states)})", states):
            refs.setdefault((r[0], r[1]), set()).add(f"assets/{r[2]}")
        return {k: frozenset(v) for k, v in refs.items()}

    def _zone_usage(self, db: sqlite3.Connection) -> dict[str, int]:
        states = [int(s) for s in LIVE_STATES]
        return dict(db.execute(
            "SELECT zone, SUM(size_bytes) FROM (SELECT DISTINCT f.zone, f.location, f.size_bytes FROM asset_files f"
            f" JOIN assets a ON a.pk=f.asset_pk WHERE a.state IN ({_placeholders(states)})) GROUP BY zone",
            states).fetchall())

    def _plan(self, db: sqlite3.Connection, campaign: str, policy: RetentionPolicy,
              references: Mapping[tuple[str, str], frozenset[str]], usage: Mapping[str, int],
              guard: bool = False) -> list[GcDecision]:
        rows = db.execute("SELECT * FROM assets WHERE campaign=? AND kind=? AND state IN (?, ?)",
                          (campaign, int(AssetKind.CHECKPOINT), int(AssetState.ACTIVE),
                           int(AssetState.CORRUPT))).fetchall()
        if not rows:
            return []
        pks = [r["pk"] for r in rows]
        marks = _placeholders(pks)
        aliases: dict[int, list[str]] = {}
        for a in db.execute(f"SELECT asset_pk, alias FROM aliases WHERE asset_pk IN ({marks})", pks):
            aliases.setdefault(a[0], []).append(a[1])
        counts = dict(db.execute(f"SELECT asset_pk, COUNT(*) FROM evals WHERE asset_pk IN ({marks})"
                                 " GROUP BY asset_pk", pks).fetchall())
        best: dict[int, list[str]] = {}
        for skill, pk in db.execute(
                f"SELECT e.skill, e.asset_pk FROM evals e JOIN assets a ON a.pk=e.asset_pk WHERE e.asset_pk IN"
                f" ({marks}) AND e.accuracy = (SELECT MAX(e2.accuracy) FROM evals e2 WHERE e2.skill=e.skill AND"
                f" e2.asset_pk IN ({marks}))", pks + pks):
            best.setdefault(pk, []).append(skill)
        files: dict[int, list[tuple[tuple[str, str], int]]] = {}
        for f in db.execute(f"SELECT DISTINCT asset_pk, zone, location, size_bytes FROM asset_files"
                            f" WHERE asset_pk IN ({marks})", pks):
            files.setdefault(f[0], []).append(((f[1], f[2]), f[3]))
        facts = [
            CheckpointFacts(
                asset=f"assets/{r['id']}", global_step=r["global_step"], create_time=r["create_time"],
                zone=r["zone"], size_bytes=r["size_bytes"], pinned=bool(r["pinned"]),
                aliases=tuple(sorted(aliases.get(r["pk"], []))), eval_count=counts.get(r["pk"], 0),
                best_skills=tuple(sorted(set(best.get(r["pk"], [])))), files=tuple(files.get(r["pk"], [])),
                superseded=json.loads(r["labels"]).get(SUPERSEDED_LABEL[0]) == SUPERSEDED_LABEL[1])
            for r in rows
        ]
        return plan_retention(policy, facts, self._clock(), references=references, zone_usage=usage, guard=guard)

    def retain_after_registration(self, campaign: str) -> GcResult:
        """The loop's retention run for one campaign (after a checkpoint registration).

        Applies the campaign's policy, else campaigns/-, else LOOP_DEFAULT_POLICY, with the loop's guard:
        latest, best/<skill> targets, pinned and not-yet-evaluated (unless superseded) checkpoints stay.
        """
        return self.run_gc(campaign, loop=True)

    def run_gc(self, campaign: str = "", dry_run: bool = False, *, loop: bool = False) -> GcResult:
        campaign = names.campaign_name(campaign, "campaign")
        decisions: list[GcDecision] = []
        doomed: list[int] = []
        with self._catalog.lock:
            with self._catalog.reading() as db:
                resumed = [r[0] for r in db.execute("SELECT pk FROM assets WHERE state=?",
                                                    (int(AssetState.DELETING),))]
                references, usage = self._references(db), self._zone_usage(db)
                policies = self._policies(db, campaign)
                if loop and campaign and not policies:
                    policies = {campaign: replace(LOOP_DEFAULT_POLICY, campaign=campaign)}
                if campaign and not policies:
                    raise NotFound(f"no retention policy for {campaign} and no default ({DEFAULT_POLICY})",
                                   field="campaign")
                for name, policy in sorted(policies.items()):
                    if policy.enabled:
                        decisions += self._plan(db, name, policy, references, usage, guard=loop)
            if not dry_run:
                with self._tx() as tx:  # phase 1 for the whole plan, atomically
                    for d in decisions:
                        if not d.keep:
                            row = tx.db.execute("SELECT * FROM assets WHERE id=?",
                                                (names.asset_id(d.asset),)).fetchone()
                            self._mark_deleting(tx, row, reason="retention: " + ", ".join(d.reasons))
                            doomed.append(row["pk"])
        if dry_run:
            return GcResult(tuple(decisions), 0, sum(d.reclaim_bytes for d in decisions if not d.keep), True,
                            0)
        reclaimed = 0
        for index, pk in enumerate(resumed + doomed):
            if index and self.config.gc_pause_between_deletions_s:
                time.sleep(self.config.gc_pause_between_deletions_s)
            reclaimed += self._finish_deletion(pk)
        if not campaign:  # a full run also tidies what crashes and abandoned uploads leave behind
            self.expire_uploads()
            self.sweep_orphans()
        return GcResult(tuple(decisions), len(doomed), reclaimed, False, len(resumed))

    def expire_uploads(self) -> int:
        """Abort uploads left open longer than upload_ttl_s (their clients are gone)."""
        cutoff = self._clock() - self.config.upload_ttl_s
        with self._catalog.reading() as db:
            stale = [r[0] for r in db.execute("SELECT id FROM uploads WHERE state='open' AND create_time < ?",
                                              (cutoff,))]
        for upload in stale:
            self.abort_upload(f"uploads/{upload}")
        return len(stale)

    def sweep_orphans(self) -> tuple[int, int]:
        """Remove blob files no live asset references and staging dirs of closed uploads.

        Such files appear only when a process dies between a filesystem step and its catalog step. Runs under
        the catalog lock, so no commit can be installing a blob meanwhile. Returns (files, bytes) removed.
        """
        removed = freed = 0
        with self._catalog.lock, self._catalog.reading() as db:
            open_uploads = {r[0] for r in db.execute("SELECT id FROM uploads WHERE state='open'")}
            states = [int(s) for s in LIVE_STATES]
            for zone in self.zones.values():
                live = {r[0] for r in db.execute(
                    "SELECT DISTINCT f.location FROM asset_files f JOIN assets a ON a.pk=f.asset_pk"
                    f" WHERE f.zone=? AND a.state IN ({_placeholders(states)})", (zone.name, *states))}
                for path in (zone.root / "blobs").rglob("*"):
                    location = path.relative_to(zone.root).as_posix()
                    if path.is_file() and location not in live:
                        freed += path.stat().st_size
                        path.unlink()
                        removed += 1
                staging = zone.root / ".staging"
                for entry in staging.iterdir():
                    if entry.name not in open_uploads:
                        shutil.rmtree(entry, ignore_errors=True)
        if removed:
            with self._tx() as tx:
                self._event(tx, LedgerEventKind.NOTE, message=f"gc removed {removed} orphan files",
                            attributes={"orphan_files": str(removed), "orphan_bytes": str(freed)})
        return removed, freed

    # -- verify -------------------------------------------------------------------------------------------
    def verify_asset(self, name: str) -> VerifyResult:
        with self._catalog.reading() as db:
            row = self._asset_row(db, name)
            if row["state"] not in (AssetState.ACTIVE, AssetState.CORRUPT):
                raise FailedPrecondition(f"asset is {AssetState(row['state']).name}", field="name")
            files = db.execute("SELECT * FROM asset_files WHERE asset_pk=? ORDER BY idx", (row["pk"],)).fetchall()
        results, bad_locations = [], []
        for f in files:  # hashing without the catalog lock
            path = self.zones[f["zone"]].absolute(f["location"])
            try:
                hasher, size = hash_file(path)
                actual, problem = hasher.hexdigest(), ""
                if size != f["size_bytes"]:
                    problem = f"size {size} != {f['size_bytes']}"
                elif actual != f["sha256"]:
                    problem = "sha256 mismatch"
            except FileNotFoundError:
                actual, problem = "", "missing"
            results.append(FileVerification(f["path"], not problem, f["sha256"], actual, problem))
            if problem:
                bad_locations.append((f["zone"], f["location"], f["path"], problem))
        ok = not bad_locations
        with self._tx() as tx:
            now = self._clock()
            row = tx.db.execute("SELECT * FROM assets WHERE pk=?", (row["pk"],)).fetchone()
            if row["state"] not in (AssetState.ACTIVE, AssetState.CORRUPT):
                pass  # deleted while we hashed: nothing left to mark
            elif ok:
                state = AssetState.ACTIVE if row["state"] == AssetState.CORRUPT else row["state"]
                tx.db.execute("UPDATE assets SET verify_time=?, state=? WHERE pk=?", (now, int(state), row["pk"]))
                self._event(tx, LedgerEventKind.VERIFIED, asset=row, attributes={"files": str(len(files))})
            else:
                # A damaged blob damages every asset that shares it.
                affected = {row["pk"]}
                for zone, location, _, _ in bad_locations:
                    affected |= {r[0] for r in tx.db.execute(
                        "SELECT DISTINCT f.asset_pk FROM asset_files f JOIN assets a ON a.pk=f.asset_pk"
                        " WHERE f.zone=? AND f.location=? AND a.state=?",
                        (zone, location, int(AssetState.ACTIVE)))}
                detail = "; ".join(f"{p}: {problem}" for _, _, p, problem in bad_locations)
                for pk in sorted(affected):
                    victim = tx.db.execute("SELECT * FROM assets WHERE pk=?", (pk,)).fetchone()
                    tx.db.execute("UPDATE assets SET state=?, verify_time=? WHERE pk=?",
                                  (int(AssetState.CORRUPT), now, pk))
                    if victim["state"] != AssetState.CORRUPT:
                        self._event(tx, LedgerEventKind.CORRUPT, asset=victim, message=detail)
            asset = self._refetch(tx.db, row["pk"])
        return VerifyResult(asset, ok, tuple(results))

    def oldest_unverified(self) -> str | None:
        """The ACTIVE asset verified longest ago (for the scheduled verifier)."""
        with self._catalog.reading() as db:
            row = db.execute("SELECT id FROM assets WHERE state=? ORDER BY COALESCE(verify_time, 0), pk LIMIT 1",
                             (int(AssetState.ACTIVE),)).fetchone()
        return f"assets/{row[0]}" if row else None

    # -- stats --------------------------------------------------------------------------------------------
    def stats(self) -> Stats:
        states = [int(s) for s in STORED_STATES]
        marks = _placeholders(states)
        with self._catalog.reading() as db:
            def buckets(key_sql: str) -> list[StatsBucket]:
                out = []
                per_asset = db.execute(
                    f"SELECT {key_sql} AS k, COUNT(*), SUM(size_bytes) FROM assets a WHERE state IN ({marks})"
                    " GROUP BY k ORDER BY k", states).fetchall()
                for key, count, logical in per_asset:
                    (stored,) = db.execute(
                        "SELECT COALESCE(SUM(size_bytes), 0) FROM (SELECT DISTINCT f.zone, f.location,"
                        " f.size_bytes FROM asset_files f JOIN assets a ON a.pk=f.asset_pk"
                        f" WHERE a.state IN ({marks}) AND {key_sql} = ?)", [*states, key]).fetchone()
                    file_count = db.execute(
                        "SELECT COUNT(*) FROM asset_files f JOIN assets a ON a.pk=f.asset_pk"
                        f" WHERE a.state IN ({marks}) AND {key_sql} = ?", [*states, key]).fetchone()[0]
                    out.append(StatsBucket(str(key), count, file_count, logical or 0, stored))
                return out

            by_zone = buckets("a.zone")
            by_kind = [replace(b, key=AssetKind(int(b.key)).name.lower()) for b in buckets("a.kind")]
            by_campaign = buckets("a.campaign")
            total = buckets("'total'")
        return Stats(tuple(by_zone), tuple(by_kind), tuple(by_campaign),
                     total[0] if total else StatsBucket("total", 0, 0, 0, 0))


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


def _lineage_to_json(lineage: Lineage) -> str:
    data = asdict(lineage)
    data["source_assets"] = list(lineage.source_assets)
    return json.dumps(data, sort_keys=True)


def _lineage_from_json(raw: str) -> Lineage:
    data = json.loads(raw)
    data["source_assets"] = tuple(data.get("source_assets", ()))
    return Lineage(**data)


def _alias_from_row(row: sqlite3.Row) -> Alias:
    return Alias(names.alias_name(row["campaign"], row["alias"]), f"assets/{row['id']}", bool(row["system"]),
                 row["metric"], row["metric_value"], MetricDirection(row["direction"]), row["update_time"])


def _eval_from_row(row: sqlite3.Row | None, asset: str) -> Eval | None:
    if row is None:
        return None
    return Eval(f"{asset}/evals/{row['id']}", asset, row["skill"], row["level"], row["accuracy"], row["correct"],
                row["total"], row["report_asset"], row["regime"], row["eval_set_hash"], json.loads(row["metrics"]),
                row["create_time"])


def _event_from_row(row: sqlite3.Row) -> LedgerEvent:
    return LedgerEvent(row["sequence"], LedgerEventKind(row["kind"]), row["time"], row["asset"], row["campaign"],
                       row["hero"], AssetKind(row["asset_kind"]), row["alias"], row["message"],
                       json.loads(row["attributes"]))
