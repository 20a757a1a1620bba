"""Durable checkpoint registration: every checkpoint_saved lands in the outbox table first; a drainer pushes
it to the vault with its lineage, moves `campaigns/<c>/aliases/latest`, and only then trims local copies.

If the vault is unreachable training goes on; rows stay PENDING and are retried (with back-off) until the
vault confirms them, in the order they were saved. Nothing is trimmed before its registration is confirmed,
and the newest checkpoint of each run directory is always kept (resume and the next quest start from it).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from services.kit.errors import RealmError
from services.trainer.campaigns import CampaignBook
from services.trainer.events import EventLog
from services.trainer.lineage import checkpoint_lineage
from services.trainer.models import Campaign, EventKind, Quest
from services.trainer.ports import CheckpointRegistry
from services.trainer.worker.checkpoints import complete_checkpoints
from services.trainer.worker.protocol import CheckpointSavedEvent

log = structlog.get_logger("realm.trainer.outbox")

PENDING = "PENDING"
DONE = "DONE"
LATEST_ALIAS = "latest"


def checkpoint_key(quest: str, global_step: int) -> str:
    return f"{quest}@{global_step}"


class CheckpointOutbox:
    def __init__(
        self,
        store: Any,
        registry: CheckpointRegistry | None,
        campaigns: CampaignBook,
        events: EventLog,
        *,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        trim_local: bool = True,
    ) -> None:
        self.store = store
        self.registry = registry
        self.campaigns = campaigns
        self.events = events
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.trim_local = trim_local
        self._wake: asyncio.Event | None = None
        # Told (campaign, seconds) per registration: the loop's time split counts uploads (set by the controller).
        self.upload_timer: Callable[[str, float], None] | None = None

    def add(self, *, checkpoint_dir: str, campaign: str, quest: str, global_step: int, lineage: dict[str, Any]) -> None:
        self.store.execute(
            "INSERT OR IGNORE INTO outbox (checkpoint_dir, campaign, quest, global_step, lineage_json, state, "
            "create_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (checkpoint_dir, campaign, quest, global_step, json.dumps(lineage), PENDING, time.time()),
        )
        self.wake()

    def record_saved(self, campaign: Campaign, quest: Quest, saved: CheckpointSavedEvent) -> None:
        """The worker saved a checkpoint: the next quest starts from it, and it is queued for the vault."""
        self.campaigns.set_latest_checkpoint_dir(campaign.name, saved.path)
        self.add(checkpoint_dir=saved.path, campaign=campaign.name, quest=quest.name, global_step=saved.global_step,
                 lineage=checkpoint_lineage(campaign, quest, saved))
        loss = saved.loss
        self.events.publish(
            EventKind.CHECKPOINT_SAVED, campaign=campaign.name, quest=quest.name, checkpoint=saved.path,
            message=f"checkpoint at step {saved.global_step}",
            attributes={"global_step": str(saved.global_step), "quest_step": str(saved.quest_step),
                        "loss": str(loss if loss is not None else "")},
        )

    def pending(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.store.query("SELECT * FROM outbox WHERE state = ? ORDER BY id", (PENDING,))]

    def rows(self, *, quest: str = "") -> list[dict[str, Any]]:
        if quest:
            return [dict(r) for r in self.store.query("SELECT * FROM outbox WHERE quest = ? ORDER BY id", (quest,))]
        return [dict(r) for r in self.store.query("SELECT * FROM outbox ORDER BY id")]

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def drain_once(self) -> int:
        """Register pending rows in order; stop at the first failure (it is retried later). Returns confirmed."""
        if self.registry is None:
            return 0
        confirmed = 0
        for row in self.pending():
            started = time.monotonic()
            try:
                self._register(row)
                if self.upload_timer is not None:
                    self.upload_timer(row["campaign"], time.monotonic() - started)
            except (RealmError, OSError, RuntimeError) as exc:
                message = exc.describe() if isinstance(exc, RealmError) else f"{type(exc).__name__}: {exc}"
                self.store.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", (message, row["id"])
                )
                log.warning("checkpoint registration failed; will retry", checkpoint=row["checkpoint_dir"],
                            error=message)
                return confirmed
            confirmed += 1
        return confirmed

    def _register(self, row: dict[str, Any]) -> None:
        assert self.registry is not None
        directory = Path(row["checkpoint_dir"])
        if not directory.is_dir():
            # Deleted locally before registration (e.g. its quest was deleted): nothing left to register.
            self.store.execute(
                "UPDATE outbox SET state = ?, last_error = ?, confirm_time = ? WHERE id = ?",
                (DONE, "local directory vanished before registration", time.time(), row["id"]),
            )
            return
        lineage = json.loads(row["lineage_json"])
        campaign = self.campaigns.get(row["campaign"])
        lineage.setdefault("parent_checkpoint", campaign.latest_checkpoint_asset)
        labels = {
            "realm.checkpoint_key": checkpoint_key(row["quest"], row["global_step"]),
            "realm.quest": row["quest"],
            "realm.global_step": str(row["global_step"]),
        }
        asset = self.registry.register(directory, lineage=lineage, labels=labels)
        newest_confirmed = self.store.query_one(
            "SELECT MAX(global_step) AS s FROM outbox WHERE campaign = ? AND state = ?", (row["campaign"], DONE)
        )
        moves_latest = newest_confirmed["s"] is None or row["global_step"] >= newest_confirmed["s"]
        if moves_latest:
            self.registry.move_alias(f"{row['campaign']}/aliases/{LATEST_ALIAS}", asset)
            self.campaigns.set_latest_checkpoint_asset(row["campaign"], asset)
        self.store.execute(
            "UPDATE outbox SET state = ?, asset = ?, attempts = attempts + 1, last_error = '', confirm_time = ? "
            "WHERE id = ?",
            (DONE, asset, time.time(), row["id"]),
        )
        self.events.publish(
            EventKind.CHECKPOINT_REGISTERED, campaign=row["campaign"], quest=row["quest"], checkpoint=asset,
            message=f"step {row['global_step']} registered" + (" and moved latest" if moves_latest else ""),
            attributes={"global_step": str(row["global_step"]), "local_path": str(directory)},
        )
        if self.trim_local:
            self.trim(directory.parent)

    def trim(self, checkpoints_dir: Path) -> list[Path]:
        """Delete confirmed checkpoint directories of one run, except the newest complete one."""
        present = complete_checkpoints(checkpoints_dir)
        if len(present) <= 1:
            return []
        confirmed = {
            r["checkpoint_dir"]
            for r in self.store.query(
                "SELECT checkpoint_dir FROM outbox WHERE state = ? AND checkpoint_dir LIKE ?",
                (DONE, f"{checkpoints_dir}%"),
            )
        }
        removed = []
        for path in present[:-1]:
            if str(path) in confirmed:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        return removed

    async def run(self) -> None:
        """Drain forever: immediately when woken, else with exponential back-off while rows are pending."""
        self._wake = asyncio.Event()
        delay = self.retry_initial_s
        while True:
            self._wake.clear()
            await asyncio.to_thread(self.drain_once)
            has_pending = bool(self.pending()) and self.registry is not None
            timeout = delay if has_pending else None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
                delay = self.retry_initial_s
            except TimeoutError:
                delay = min(delay * 2, self.retry_max_s)
