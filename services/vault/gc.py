"""Garbage collection: gather the catalog facts the retention planner needs, apply its plan through two-phase
deletion, resume interrupted deletions, expire abandoned uploads and sweep orphan files."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from services.kit.errors import NotFound
from services.vault import names
from services.vault.assets import LIVE_STATES, AssetStore
from services.vault.blobstore import BLOB_DIR, STAGING_DIR, ZoneSet
from services.vault.catalog import Catalog, placeholders
from services.vault.deletion import Deleter
from services.vault.ledger import Ledger
from services.vault.models import (
    AssetKind,
    AssetState,
    GcDecision,
    GcResult,
    LedgerEventKind,
    RetentionPolicy,
)
from services.vault.policies import DEFAULT_POLICY, PolicyStore
from services.vault.retention import CheckpointFacts, plan_retention
from services.vault.upload_store import UploadStore

SUPERSEDED_LABEL = ("trial", "superseded")  # set by the curriculum on checkpoints whose trial it skipped
# The policy the automatic run after a checkpoint registration applies to a campaign when neither it nor
# campaigns/- has one: the 3 newest, each skill's best, pinned ones, and nothing never evaluated.
LOOP_DEFAULT_POLICY = RetentionPolicy(campaign=DEFAULT_POLICY, keep_latest=3, keep_best_per_skill=True,
                                      keep_pinned=True, min_evals_before_delete=1, enabled=True)

References = Mapping[tuple[str, str], frozenset[str]]


class GarbageCollector:
    def __init__(self, catalog: Catalog, ledger: Ledger, assets: AssetStore, deleter: Deleter,
                 policies: PolicyStore, uploads: UploadStore, zones: ZoneSet, clock: Callable[[], float], *,
                 pause_between_deletions_s: float, upload_ttl_s: float) -> None:
        self._catalog = catalog
        self._ledger = ledger
        self._assets = assets
        self._deleter = deleter
        self._policies = policies
        self._uploads = uploads
        self._zones = zones
        self._clock = clock
        self._pause_s = pause_between_deletions_s
        self._upload_ttl_s = upload_ttl_s

    def retain_after_registration(self, campaign: str) -> GcResult:
        """The loop's retention run for one campaign (after a checkpoint registration).

        Applies the campaign's policy, else campaigns/-, else LOOP_DEFAULT_POLICY, with the loop's guard:
        latest, best/<skill> targets, pinned and not-yet-evaluated (unless superseded) checkpoints stay.
        """
        return self.run(campaign, loop=True)

    def run(self, campaign: str = "", dry_run: bool = False, *, loop: bool = False) -> GcResult:
        campaign = names.campaign_name(campaign, "campaign")
        decisions: list[GcDecision] = []
        doomed: list[int] = []
        with self._catalog.lock:
            resumed = self._deleter.deleting_pks()
            with self._catalog.reading() as db:
                references, usage = _references(db), _zone_usage(db)
                policies = self._policies.effective(db, campaign)
                if loop and campaign and not policies:
                    policies = {campaign: replace(LOOP_DEFAULT_POLICY, campaign=campaign)}
                if campaign and not policies:
                    raise NotFound(f"no retention policy for {campaign} and no default ({DEFAULT_POLICY})",
                                   field="campaign")
                for name, policy in sorted(policies.items()):
                    if policy.enabled:
                        decisions += self._plan(db, name, policy, references, usage, guard=loop)
            if not dry_run:
                with self._ledger.transaction() as tx:  # phase 1 for the whole plan, atomically
                    for d in decisions:
                        if not d.keep:
                            row = self._assets.by_id(tx.db, d.asset)
                            self._deleter.mark_deleting(tx, row, reason="retention: " + ", ".join(d.reasons))
                            doomed.append(row["pk"])
        if dry_run:
            return GcResult(tuple(decisions), 0, sum(d.reclaim_bytes for d in decisions if not d.keep), True,
                            0)
        reclaimed = 0
        for index, pk in enumerate(resumed + doomed):
            if index and self._pause_s:
                time.sleep(self._pause_s)  # throttles phase 2 (slow NAS); not synchronisation
            reclaimed += self._deleter.finish(pk)
        if not campaign:  # a full run also tidies what crashes and abandoned uploads leave behind
            self.expire_uploads()
            self.sweep_orphans()
        return GcResult(tuple(decisions), len(doomed), reclaimed, False, len(resumed))

    def _plan(self, db: sqlite3.Connection, campaign: str, policy: RetentionPolicy, references: References,
              usage: Mapping[str, int], guard: bool = False) -> list[GcDecision]:
        rows = db.execute("SELECT * FROM assets WHERE campaign=? AND kind=? AND state IN (?, ?)",
                          (campaign, int(AssetKind.CHECKPOINT), int(AssetState.ACTIVE),
                           int(AssetState.CORRUPT))).fetchall()
        if not rows:
            return []
        pks = [r["pk"] for r in rows]
        marks = placeholders(pks)
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

    def expire_uploads(self) -> int:
        """Abort uploads left open longer than upload_ttl_s (their clients are gone)."""
        stale = self._uploads.open_ids_older_than(self._clock() - self._upload_ttl_s)
        for upload in stale:
            self._uploads.abort(f"uploads/{upload}")
        return len(stale)

    def sweep_orphans(self) -> tuple[int, int]:
        """Remove blob files no live asset references and staging dirs of closed uploads.

        Such files appear only when a process dies between a filesystem step and its catalog step. Runs under
        the catalog lock, so no commit can be installing a blob meanwhile. Returns (files, bytes) removed.
        """
        removed = freed = 0
        with self._catalog.lock, self._catalog.reading() as db:
            open_uploads = self._uploads.open_ids(db)
            states = [int(s) for s in LIVE_STATES]
            for zone in self._zones.values():
                live = {r[0] for r in db.execute(
                    "SELECT DISTINCT f.location FROM asset_files f JOIN assets a ON a.pk=f.asset_pk"
                    f" WHERE f.zone=? AND a.state IN ({placeholders(states)})", (zone.name, *states))}
                for path in (zone.root / BLOB_DIR).rglob("*"):
                    location = path.relative_to(zone.root).as_posix()
                    if path.is_file() and location not in live:
                        freed += path.stat().st_size
                        path.unlink()
                        removed += 1
                staging = zone.root / STAGING_DIR
                for entry in staging.iterdir():
                    if entry.name not in open_uploads:
                        shutil.rmtree(entry, ignore_errors=True)
        if removed:
            with self._ledger.transaction() as tx:
                self._ledger.record(tx, LedgerEventKind.NOTE, message=f"gc removed {removed} orphan files",
                                    attributes={"orphan_files": str(removed), "orphan_bytes": str(freed)})
        return removed, freed


def _references(db: sqlite3.Connection) -> dict[tuple[str, str], frozenset[str]]:
    """Every stored file (zone, location) with the live assets that reference it."""
    states = [int(s) for s in LIVE_STATES]
    refs: dict[tuple[str, str], set[str]] = {}
    for r in db.execute("SELECT f.zone, f.location, a.id FROM asset_files f JOIN assets a ON a.pk=f.asset_pk"
                        f" WHERE a.state IN ({placeholders(states)})", states):
        refs.setdefault((r[0], r[1]), set()).add(f"assets/{r[2]}")
    return {k: frozenset(v) for k, v in refs.items()}


def _zone_usage(db: sqlite3.Connection) -> dict[str, int]:
    """Bytes stored per zone by live assets, each distinct file once."""
    states = [int(s) for s in LIVE_STATES]
    return dict(db.execute(
        "SELECT zone, SUM(size_bytes) FROM (SELECT DISTINCT f.zone, f.location, f.size_bytes FROM asset_files f"
        f" JOIN assets a ON a.pk=f.asset_pk WHERE a.state IN ({placeholders(states)})) GROUP BY zone",
        states).fetchall())
