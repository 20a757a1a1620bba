"""The asset store: rows of `assets` and `asset_files`, name/alias lookup, the Asset views built from them,
listing, labels and pins."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from services.kit.errors import FailedPrecondition, NotFound
from services.kit.paging import decode_offset, encode_token, page_size
from services.vault import names
from services.vault.catalog import Catalog, placeholders
from services.vault.ledger import Ledger
from services.vault.models import Asset, AssetFile, AssetKind, AssetState, LedgerEventKind, Lineage
from services.vault.validation import check_kind, check_labels

# States whose files must stay on disk (UPLOADING included: its deduplicated blobs are promised to it).
LIVE_STATES = (AssetState.UPLOADING, AssetState.ACTIVE, AssetState.DELETING, AssetState.CORRUPT)
# States counted in stats: the asset exists and holds bytes.
STORED_STATES = (AssetState.ACTIVE, AssetState.DELETING, AssetState.CORRUPT)
# States ListAssets shows (DELETED too with show_deleted).
LISTED_STATES = (AssetState.ACTIVE, AssetState.CORRUPT, AssetState.DELETING)


def manifest_digest(files: Sequence[AssetFile]) -> str:
    lines = sorted(f"{f.path}\0{f.size_bytes}\0{f.sha256}\n" for f in files)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def lineage_to_json(lineage: Lineage) -> str:
    data = asdict(lineage)
    data["source_assets"] = list(lineage.source_assets)
    return json.dumps(data, sort_keys=True)


def lineage_from_json(raw: str) -> Lineage:
    data = json.loads(raw)
    data["source_assets"] = tuple(data.get("source_assets", ()))
    return Lineage(**data)


def blob_is_live(db: sqlite3.Connection, zone: str, location: str, *, except_pk: int | None = None) -> bool:
    """Whether an asset in a live state (other than `except_pk`) references the stored file."""
    states = [int(s) for s in LIVE_STATES]
    row = db.execute(
        "SELECT 1 FROM asset_files f JOIN assets a ON a.pk = f.asset_pk WHERE f.zone=? AND f.location=?"
        f" AND a.state IN ({placeholders(states)}) AND a.pk != ? LIMIT 1",
        (zone, location, *states, except_pk if except_pk is not None else -1),
    ).fetchone()
    return row is not None


class AssetStore:
    def __init__(self, catalog: Catalog, ledger: Ledger, clock: Callable[[], float]) -> None:
        self._catalog = catalog
        self._ledger = ledger
        self._clock = clock

    # -- rows -------------------------------------------------------------------------------------------
    @staticmethod
    def row(db: sqlite3.Connection, name: str, field: str = "name", *, visible_only: bool = True) -> sqlite3.Row:
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

    @staticmethod
    def by_pk(db: sqlite3.Connection, pk: int) -> sqlite3.Row:
        return db.execute("SELECT * FROM assets WHERE pk=?", (pk,)).fetchone()

    @staticmethod
    def by_id(db: sqlite3.Connection, name: str) -> sqlite3.Row:
        return db.execute("SELECT * FROM assets WHERE id=?", (names.asset_id(name),)).fetchone()

    @staticmethod
    def files(db: sqlite3.Connection, pk: int) -> list[sqlite3.Row]:
        return db.execute("SELECT * FROM asset_files WHERE asset_pk=? ORDER BY idx", (pk,)).fetchall()

    @staticmethod
    def file(db: sqlite3.Connection, pk: int, path: str) -> sqlite3.Row | None:
        return db.execute("SELECT * FROM asset_files WHERE asset_pk=? AND path=?", (pk, path)).fetchone()

    @staticmethod
    def set_state(db: sqlite3.Connection, pk: int, state: AssetState) -> None:
        db.execute("UPDATE assets SET state=? WHERE pk=?", (int(state), pk))

    def insert(self, db: sqlite3.Connection, *, kind: AssetKind, state: AssetState, display_name: str,
               zone: str, files: Sequence[AssetFile], locations: Sequence[str], lineage: Lineage,
               labels: Mapping[str, str], in_place: bool) -> sqlite3.Row:
        asset_id = uuid.uuid4().hex[:20]
        cursor = db.execute(
            "INSERT INTO assets(id, kind, state, display_name, zone, manifest_digest, size_bytes, labels, hero,"
            " campaign, global_step, lineage, in_place, create_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (asset_id, int(kind), int(state), display_name, zone, manifest_digest(files),
             sum(f.size_bytes for f in files), json.dumps(dict(labels), sort_keys=True), lineage.hero,
             lineage.campaign, lineage.global_step, lineage_to_json(lineage), int(in_place), self._clock()),
        )
        db.executemany(
            "INSERT INTO asset_files(asset_pk, idx, path, size_bytes, sha256, zone, location) VALUES (?,?,?,?,?,?,?)",
            [(cursor.lastrowid, i, f.path, f.size_bytes, f.sha256, zone, loc)
             for i, (f, loc) in enumerate(zip(files, locations, strict=True))],
        )
        return self.by_pk(db, cursor.lastrowid)

    # -- views ------------------------------------------------------------------------------------------
    @staticmethod
    def to_models(db: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[Asset]:
        if not rows:
            return []
        pks = [r["pk"] for r in rows]
        marks = placeholders(pks)
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
                lineage=lineage_from_json(r["lineage"]),
                pinned=bool(r["pinned"]),
                aliases=tuple(aliases[r["pk"]]),
                eval_count=evals.get(r["pk"], 0),
                create_time=r["create_time"],
                verify_time=r["verify_time"],
                in_place=bool(r["in_place"]),
            )
            for r in rows
        ]

    def model(self, db: sqlite3.Connection, row: sqlite3.Row) -> Asset:
        return self.to_models(db, [row])[0]

    def refetch(self, db: sqlite3.Connection, pk: int) -> Asset:
        return self.model(db, self.by_pk(db, pk))

    # -- reads ------------------------------------------------------------------------------------------
    def get(self, name: str) -> Asset:
        with self._catalog.reading() as db:
            return self.model(db, self.row(db, name))

    def list(self, *, page_size_: int = 0, page_token: str = "", kind: int = 0, campaign: str = "",
             hero: str = "", show_deleted: bool = False, labels: Mapping[str, str] | None = None
             ) -> tuple[list[Asset], str, int]:
        size = page_size(page_size_)
        campaign = names.campaign_name(campaign, "campaign")
        hero = names.hero_name(hero, "hero")
        labels = dict(labels or {})
        filters = {"kind": kind, "campaign": campaign, "hero": hero, "deleted": show_deleted, "labels": labels}
        before = decode_offset(page_token, filters)  # the pk of the previous page's last row (0: first page)
        states = [*LISTED_STATES, *([AssetState.DELETED] if show_deleted else [])]
        where = [f"state IN ({placeholders(states)})"]
        args: list[Any] = [int(s) for s in states]
        if kind:
            where.append("kind=?")
            args.append(int(check_kind(kind)))
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
            page_clause = clause + (" AND pk < ?" if before else "")
            page_args = args + ([before] if before else [])
            rows = db.execute(f"SELECT * FROM assets WHERE {page_clause} ORDER BY pk DESC LIMIT ?",
                              [*page_args, size + 1]).fetchall()
            token = encode_token(rows[size - 1]["pk"], filters) if len(rows) > size else ""
            return self.to_models(db, rows[:size]), token, total

    # -- writes -----------------------------------------------------------------------------------------
    def update_labels(self, name: str, set_labels: Mapping[str, str], remove: Sequence[str]) -> Asset:
        set_labels = check_labels(set_labels, "set_labels")
        with self._ledger.transaction() as tx:
            row = self.row(tx.db, name)
            labels = json.loads(row["labels"])
            for key in remove:
                labels.pop(key, None)
            labels.update(set_labels)
            tx.db.execute("UPDATE assets SET labels=? WHERE pk=?", (json.dumps(labels, sort_keys=True), row["pk"]))
            return self.refetch(tx.db, row["pk"])

    def set_pinned(self, name: str, pinned: bool, note: str = "") -> Asset:
        with self._ledger.transaction() as tx:
            row = self.row(tx.db, name)
            if row["state"] not in (AssetState.ACTIVE, AssetState.CORRUPT):
                raise FailedPrecondition(f"asset is {AssetState(row['state']).name}", field="name")
            if bool(row["pinned"]) != pinned:
                tx.db.execute("UPDATE assets SET pinned=?, pin_note=? WHERE pk=?", (int(pinned), note, row["pk"]))
                self._ledger.record(tx, LedgerEventKind.PINNED if pinned else LedgerEventKind.UNPINNED, asset=row,
                                    message=note)
            return self.refetch(tx.db, row["pk"])
