"""Storage statistics derived from the catalog: logical bytes sum asset sizes, stored bytes sum distinct
stored files, so deduplicated blobs are never counted twice within a bucket."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

from services.vault.assets import STORED_STATES
from services.vault.catalog import Catalog, placeholders
from services.vault.models import AssetKind, Stats, StatsBucket


def compute_stats(catalog: Catalog) -> Stats:
    with catalog.reading() as db:
        by_zone = _buckets(db, "a.zone")
        by_kind = [replace(b, key=AssetKind(int(b.key)).name.lower()) for b in _buckets(db, "a.kind")]
        by_campaign = _buckets(db, "a.campaign")
        total = _buckets(db, "'total'")
    return Stats(tuple(by_zone), tuple(by_kind), tuple(by_campaign),
                 total[0] if total else StatsBucket("total", 0, 0, 0, 0))


def _buckets(db: sqlite3.Connection, key_sql: str) -> list[StatsBucket]:
    """One bucket per distinct value of `key_sql` (a column of assets `a`, or a constant for the total)."""
    states = [int(s) for s in STORED_STATES]
    marks = placeholders(states)
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
