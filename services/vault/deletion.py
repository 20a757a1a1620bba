"""Two-phase, idempotent deletion: phase 1 marks the asset DELETING (its aliases go), phase 2 unlinks each file
no other live asset references and marks it DELETED. A crash in between is finished by the next GC."""

from __future__ import annotations

import contextlib
import os
import sqlite3

from services.kit.errors import FailedPrecondition
from services.vault import names
from services.vault.aliases import AliasStore
from services.vault.assets import AssetStore, blob_is_live
from services.vault.blobstore import ZoneSet
from services.vault.catalog import Catalog
from services.vault.ledger import Ledger, Tx
from services.vault.models import Asset, AssetState, LedgerEventKind


class Deleter:
    def __init__(self, catalog: Catalog, ledger: Ledger, assets: AssetStore, aliases: AliasStore,
                 zones: ZoneSet) -> None:
        self._catalog = catalog
        self._ledger = ledger
        self._assets = assets
        self._aliases = aliases
        self._zones = zones

    def delete(self, name: str, force: bool = False) -> Asset:
        """DeleteAsset: refused for pinned or aliased assets unless `force` (which drops the aliases)."""
        with self._catalog.lock:
            with self._ledger.transaction() as tx:
                row = self._assets.row(tx.db, name)
                if row["state"] == AssetState.DELETED:
                    return self._assets.refetch(tx.db, row["pk"])
                already_deleting = row["state"] == AssetState.DELETING
                aliases = self._aliases.held_by(tx.db, row["pk"])
                if not force and not already_deleting and (row["pinned"] or aliases):
                    held = ["pinned"] * bool(row["pinned"]) + [names.alias_name(*a) for a in aliases]
                    raise FailedPrecondition(f"held by {', '.join(held)}; use force", field="name")
                if not already_deleting:  # an interrupted deletion just resumes at phase 2
                    self.mark_deleting(tx, row, reason="requested" + (" (forced)" if force else ""))
            self.finish(row["pk"])
            with self._catalog.reading() as db:
                return self._assets.refetch(db, row["pk"])

    def mark_deleting(self, tx: Tx, row: sqlite3.Row, reason: str) -> None:
        """Phase 1: the asset leaves every view; its aliases go with it."""
        self._aliases.drop_all_of(tx, row)
        self._assets.set_state(tx.db, row["pk"], AssetState.DELETING)
        self._ledger.record(tx, LedgerEventKind.DELETING, asset=row, message=reason)

    def finish(self, pk: int) -> int:
        """Phase 2, idempotent: remove files no other live asset references, then mark DELETED. Returns the
        bytes freed."""
        with self._catalog.lock:
            with self._catalog.reading() as db:
                row = self._assets.by_pk(db, pk)
                if row["state"] != AssetState.DELETING:
                    return 0
                files = db.execute("SELECT DISTINCT zone, location, size_bytes FROM asset_files WHERE asset_pk=?",
                                   (pk,)).fetchall()
                freed = 0
                for f in files:
                    if blob_is_live(db, f["zone"], f["location"], except_pk=pk):
                        continue
                    path = self._zones[f["zone"]].absolute(f["location"])
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                        freed += f["size_bytes"]
            with self._ledger.transaction() as tx:
                self._assets.set_state(tx.db, pk, AssetState.DELETED)
                self._ledger.record(tx, LedgerEventKind.DELETED, asset=row, attributes={"freed_bytes": str(freed)})
            return freed

    def deleting_pks(self) -> list[int]:
        """Assets a crash left between the phases."""
        with self._catalog.reading() as db:
            return [r[0] for r in db.execute("SELECT pk FROM assets WHERE state=?", (int(AssetState.DELETING),))]
