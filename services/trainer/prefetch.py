"""Data ahead of need: ask the hero loop for the next quest while the current one trains, not after it.

The controller starts a prefetch when a quest's worker has started; the hero loop's own queue threshold and
interval still decide whether a quest is generated. The idle tick goes through the same lock, so it waits for a
prefetch in flight (whose quest is then next) instead of planning a second batch beside it.
"""

from __future__ import annotations

import asyncio

import structlog

from services.trainer.campaigns import CampaignBook
from services.trainer.hero_loop import HeroLoop
from services.trainer.models import Campaign

log = structlog.get_logger("realm.trainer.prefetch")


class QuestPrefetch:
    def __init__(self, hero_loop: HeroLoop, campaigns: CampaignBook) -> None:
        self.hero_loop = hero_loop
        self.campaigns = campaigns
        self._lock = asyncio.Lock()  # one hero-loop request at a time
        self._task: asyncio.Task | None = None

    async def enqueue_now(self, campaign: Campaign) -> None:
        async with self._lock:
            await self.hero_loop.maybe_enqueue(campaign)

    def start(self, campaign_name: str) -> None:
        """Ask in the background (at most one request in flight)."""
        if self._task is not None and not self._task.done():
            return
        self._task = asyncio.get_running_loop().create_task(self._run(campaign_name), name="trainer-prefetch")

    async def _run(self, campaign_name: str) -> None:
        try:
            await self.enqueue_now(await asyncio.to_thread(self.campaigns.get, campaign_name))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the idle tick asks again; training goes on regardless
            log.exception("hero loop prefetch failed", campaign=campaign_name)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
