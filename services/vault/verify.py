"""Verification: re-hash every file of an asset; damage marks it — and every asset sharing the damaged blob —
CORRUPT, a later clean verify returns it to ACTIVE."""

from __future__ import annotations

from collections.abc import Callable

from services.kit.errors import FailedPrecondition
from services.vault.assets import AssetStore
from services.vault.blobstore import ZoneSet, hash_file
from services.vault.catalog import Catalog
from services.vault.ledger import Ledger
from services.vault.models import AssetState, FileVerification, LedgerEventKind, VerifyResult

VERIFIABLE_STATES = (AssetState.ACTIVE, AssetState.CORRUPT)


class Verifier:
    def __init__(self, catalog: Catalog, ledger: Ledger, assets: AssetStore, zones: ZoneSet,
                 clock: Callable[[], float]) -> None:
        self._catalog = catalog
        self._ledger = ledger
        self._assets = assets
        self._zones = zones
        self._clock = clock

    def verify(self, name: str) -> VerifyResult:
        with self._catalog.reading() as db:
            row = self._assets.row(db, name)
            if row["state"] not in VERIFIABLE_STATES:
                raise FailedPrecondition(f"asset is {AssetState(row['state']).name}", field="name")
            files = self._assets.files(db, row["pk"])
        results, bad_locations = [], []
        for f in files:  # hashing without the catalog lock
            path = self._zones[f["zone"]].absolute(f["location"])
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
        with self._ledger.transaction() as tx:
            now = self._clock()
            row = self._assets.by_pk(tx.db, row["pk"])
            if row["state"] not in VERIFIABLE_STATES:
                pass  # deleted while we hashed: nothing left to mark
            elif ok:
                state = AssetState.ACTIVE if row["state"] == AssetState.CORRUPT else row["state"]
                tx.db.execute("UPDATE assets SET verify_time=?, state=? WHERE pk=?", (now, int(state), row["pk"]))
                self._ledger.record(tx, LedgerEventKind.VERIFIED, asset=row, attributes={"files": str(len(files))})
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
                    victim = self._assets.by_pk(tx.db, pk)
                    tx.db.execute("UPDATE assets SET state=?, verify_time=? WHERE pk=?",
                                  (int(AssetState.CORRUPT), now, pk))
                    if victim["state"] != AssetState.CORRUPT:
                        self._ledger.record(tx, LedgerEventKind.CORRUPT, asset=victim, message=detail)
            asset = self._assets.refetch(tx.db, row["pk"])
        return VerifyResult(asset, ok, tuple(results))

    def oldest_unverified(self) -> str | None:
        """The ACTIVE asset verified longest ago (for the scheduled verifier)."""
        with self._catalog.reading() as db:
            row = db.execute("SELECT id FROM assets WHERE state=? ORDER BY COALESCE(verify_time, 0), pk LIMIT 1",
                             (int(AssetState.ACTIVE),)).fetchone()
        return f"assets/{row[0]}" if row else None
