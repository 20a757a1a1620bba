"""The upload store: rows of `uploads` and `upload_files`, and an upload's life — create (with dedup and
idempotent request ids), open a writer per file, record its progress, commit into the blob store, abort."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.vault import names
from services.vault.assets import AssetStore, blob_is_live
from services.vault.blobstore import ZoneSet, install_blob, write_empty_blob
from services.vault.catalog import Catalog
from services.vault.ledger import Ledger
from services.vault.models import Asset, AssetFile, AssetState, FileProgress, Lineage, Upload
from services.vault.registration import Registrar
from services.vault.uploads import FileKey, UploadWriter, WriterSlots
from services.vault.validation import check_files, check_kind, check_labels, check_lineage


def size_of(path: Path) -> int:
    """The file's size, or -1 when it does not exist."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


class UploadStore:
    """Also the `ProgressRecorder` of the writers it opens."""

    def __init__(self, catalog: Catalog, ledger: Ledger, assets: AssetStore, registrar: Registrar, zones: ZoneSet,
                 clock: Callable[[], float], *, sync_every_bytes: int) -> None:
        self._catalog = catalog
        self._ledger = ledger
        self._assets = assets
        self._registrar = registrar
        self._zones = zones
        self._clock = clock
        self._sync_every_bytes = sync_every_bytes
        self._slots = WriterSlots()

    # -- rows -------------------------------------------------------------------------------------------
    @staticmethod
    def _row(db: sqlite3.Connection, name: str, field: str = "name") -> sqlite3.Row:
        row = db.execute("SELECT * FROM uploads WHERE id=?", (names.upload_id(name, field),)).fetchone()
        if row is None:
            raise NotFound(f"{name!r} does not exist", field=field)
        return row

    @staticmethod
    def _model(db: sqlite3.Connection, row: sqlite3.Row) -> Upload:
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

    def open_ids_older_than(self, cutoff: float) -> list[str]:
        with self._catalog.reading() as db:
            return [r[0] for r in db.execute("SELECT id FROM uploads WHERE state='open' AND create_time < ?",
                                             (cutoff,))]

    @staticmethod
    def open_ids(db: sqlite3.Connection) -> set[str]:
        return {r[0] for r in db.execute("SELECT id FROM uploads WHERE state='open'")}

    # -- requests ---------------------------------------------------------------------------------------
    def create(self, *, kind: int, files: Sequence[AssetFile], lineage: Lineage | None = None,
               labels: Mapping[str, str] | None = None, zone: str = "", display_name: str = "",
               request_id: str = "") -> Upload:
        asset_kind = check_kind(kind)
        files = check_files(files)
        lineage = check_lineage(lineage or Lineage())
        labels = check_labels(labels or {})
        store = self._zones.pick(zone)
        if len(request_id) > 128:
            raise InvalidArgument("must be at most 128 characters", field="request_id")
        with self._ledger.transaction() as tx:
            db = tx.db
            if request_id:
                row = db.execute("SELECT * FROM uploads WHERE request_id=?", (request_id,)).fetchone()
                if row is not None:
                    return self._model(db, row)
            locations = [store.blob_location(f.sha256) for f in files]
            asset = self._assets.insert(db, kind=asset_kind, state=AssetState.UPLOADING, display_name=display_name,
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
                stored = (blob_is_live(db, store.name, location, except_pk=asset["pk"])
                          and size_of(store.absolute(location)) == f.size_bytes)
                rows.append((cursor.lastrowid, index, f.size_bytes if stored else 0, int(stored), int(stored)))
            db.executemany("INSERT INTO upload_files(upload_pk, idx, received_bytes, already_stored, verified)"
                           " VALUES (?,?,?,?,?)", rows)
            return self._model(db, db.execute("SELECT * FROM uploads WHERE pk=?", (cursor.lastrowid,)).fetchone())

    def get(self, name: str) -> Upload:
        with self._catalog.reading() as db:
            return self._model(db, self._row(db, name))

    def open_writer(self, upload: str, path: str, offset: int) -> UploadWriter:
        """Start writing one file of an open upload at `offset` (which must equal its received_bytes)."""
        with self._catalog.reading() as db:
            row = self._row(db, upload, "header.upload")
            if row["state"] != "open":
                raise FailedPrecondition(f"upload is {row['state']}", field="header.upload")
            f = self._assets.file(db, row["asset_pk"], path)
            if f is None:
                raise NotFound(f"{path!r} is not a file of this upload", field="header.path")
            progress = db.execute("SELECT * FROM upload_files WHERE upload_pk=? AND idx=?",
                                  (row["pk"], f["idx"])).fetchone()
            if offset != progress["received_bytes"]:
                raise FailedPrecondition(
                    f"must equal received_bytes={progress['received_bytes']} (ask GetUpload, then resume)",
                    field="header.offset")
            key = (row["pk"], f["idx"])
            self._slots.claim(key, path)
        try:
            part = self._zones[f["zone"]].part_path(row["id"], f["idx"])
            return UploadWriter(self._slots, self, key, f["path"], f["size_bytes"], f["sha256"], part, offset,
                                done=bool(progress["verified"]), sync_every_bytes=self._sync_every_bytes)
        except BaseException:
            self._slots.release(key)
            raise

    def record_progress(self, key: FileKey, received: int, verified: bool) -> None:
        with self._ledger.transaction() as tx:
            tx.db.execute("UPDATE upload_files SET received_bytes=?, verified=? WHERE upload_pk=? AND idx=?",
                          (received, int(verified), *key))

    def commit(self, name: str) -> Asset:
        """Install every file (verified while written) into the blob store, then make the asset ACTIVE."""
        with self._catalog.lock:
            with self._catalog.reading() as db:
                row = self._row(db, name)
                if row["state"] == "committed":
                    return self._assets.refetch(db, row["asset_pk"])
                if row["state"] != "open":
                    raise FailedPrecondition(f"upload is {row['state']}", field="name")
                files = db.execute(
                    "SELECT f.*, u.received_bytes, u.already_stored, u.verified FROM asset_files f JOIN"
                    " upload_files u ON u.upload_pk=? AND u.idx=f.idx WHERE f.asset_pk=? ORDER BY f.idx",
                    (row["pk"], row["asset_pk"])).fetchall()
            for f in files:
                if self._slots.is_writing((row["pk"], f["idx"])):
                    raise FailedPrecondition(f"{f['path']!r} is still being written", field="name")
            zone = self._zones[files[0]["zone"]]
            for f in files:
                blob = zone.absolute(f["location"])
                if size_of(blob) == f["size_bytes"] and (f["already_stored"] or f["verified"]):
                    continue  # deduplicated, or installed by an earlier commit attempt that crashed
                if f["size_bytes"] == 0:
                    write_empty_blob(blob)
                    continue
                part = zone.part_path(row["id"], f["idx"])
                if not f["verified"] or size_of(part) != f["size_bytes"]:
                    raise FailedPrecondition(
                        f"file {f['path']!r} is incomplete: {f['received_bytes']} of {f['size_bytes']} bytes",
                        field="name")
                install_blob(part, blob)
            with self._ledger.transaction() as tx:
                tx.db.execute("UPDATE uploads SET state='committed' WHERE pk=?", (row["pk"],))
                self._registrar.activate(tx, self._assets.by_pk(tx.db, row["asset_pk"]))
                result = self._assets.refetch(tx.db, row["asset_pk"])
            shutil.rmtree(zone.staging_dir(row["id"]), ignore_errors=True)
            for f in files:
                self._slots.forget((row["pk"], f["idx"]))
        self._registrar.announce(result)
        return result

    def abort(self, name: str) -> None:
        with self._catalog.lock:
            with self._ledger.transaction() as tx:
                row = self._row(tx.db, name)
                if row["state"] == "committed":
                    raise FailedPrecondition("upload is already committed", field="name")
                if row["state"] == "aborted":
                    return
                tx.db.execute("UPDATE uploads SET state='aborted' WHERE pk=?", (row["pk"],))
                # Never visible, so no ledger event; its dedup promises end here.
                self._assets.set_state(tx.db, row["asset_pk"], AssetState.DELETED)
                zone_name = tx.db.execute("SELECT zone FROM assets WHERE pk=?", (row["asset_pk"],)).fetchone()[0]
                # A commit that crashed after installing blobs leaves them referenced only by this upload.
                for (location,) in tx.db.execute("SELECT DISTINCT location FROM asset_files WHERE asset_pk=?",
                                                 (row["asset_pk"],)).fetchall():
                    if not blob_is_live(tx.db, zone_name, location):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(self._zones[zone_name].absolute(location))
            shutil.rmtree(self._zones[zone_name].staging_dir(row["id"]), ignore_errors=True)
