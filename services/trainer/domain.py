"""The trainer's domain, assembled: heroes, campaigns, queue, intake, events, outbox, hero loop, controller.

`TrainerDomain.build(...)` takes the collaborators that talk to other services (ports), so tests can wire
real servers or leave a port out; `services/trainer/app.py` builds them from settings with the SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable

from services.trainer.campaigns import CampaignBook
from services.trainer.config import TrainerConfig
from services.trainer.controller import RunController
from services.trainer.events import EventLog
from services.trainer.hero_loop import HeroLoop
from services.trainer.heroes import HeroRegistry
from services.trainer.intake import QuestIntake
from services.trainer.jobs import JobBuilder
from services.trainer.levelups import LevelUpFollower
from services.trainer.memory import ModelShape
from services.trainer.models import Quest
from services.trainer.outbox import CheckpointOutbox
from services.trainer.ports import (
    BatchPlanner,
    CheckpointRegistry,
    DatasetSource,
    DatasetValidator,
    LedgerFeed,
    SkillLevels,
)
from services.trainer.progress import HeroProgress, hero_progress
from services.trainer.quests import QuestQueue
from services.trainer.store import TrainerStore
from services.trainer.worker.config import build_training_config


class TrainerDomain:
    def __init__(
        self,
        options: TrainerConfig,
        *,
        validator: DatasetValidator,
        registry: CheckpointRegistry | None,
        assets: DatasetSource | None,
        planner: BatchPlanner | None,
        ledger: LedgerFeed | None = None,
        levels: SkillLevels | None = None,
    ) -> None:
        self.options = options
        options.data_root.mkdir(parents=True, exist_ok=True)
        self.store = TrainerStore(options.data_root / "trainer.sqlite3")
        self.heroes = HeroRegistry(options.heroes_dir, root=options.project_root)
        self.campaigns = CampaignBook(self.store, self.heroes, config_builder=build_training_config)
        self.queue = QuestQueue(self.store)
        self.events = EventLog(self.store, retention=options.event_retention)
        self.intake = QuestIntake(
            root=options.data_root, queue=self.queue, campaigns=self.campaigns, heroes=self.heroes,
            events=self.events, validator=validator, datasets=assets, max_quest_bytes=options.max_quest_bytes,
            training_config_builder=build_training_config,
        )
        self.outbox = CheckpointOutbox(
            self.store, registry, self.campaigns, self.events,
            retry_initial_s=options.outbox_retry_initial_s, retry_max_s=options.outbox_retry_max_s,
        )
        self.level_ups = LevelUpFollower(
            store=self.store, queue=self.queue, campaigns=self.campaigns, events=self.events, feed=ledger,
            levels=levels,
            retry_initial_s=options.ledger_retry_initial_s, retry_max_s=options.ledger_retry_max_s,
        )
        self.hero_loop = HeroLoop(
            planner=planner, intake=self.intake, queue=self.queue, campaigns=self.campaigns, heroes=self.heroes,
            min_interval_s=options.hero_loop_interval_s, level_ups=self.level_ups,
        )
        self.jobs = JobBuilder(root=options.data_root, heroes=self.heroes, assets=assets,
                               training_config_builder=build_training_config, locks=self.campaigns.setup)
        self.controller = RunController(
            settings=options.controller, queue=self.queue, campaigns=self.campaigns, events=self.events,
            intake=self.intake, outbox=self.outbox, hero_loop=self.hero_loop, jobs=self.jobs,
        )
        self.level_ups.finish_running = self._finish_running_quest
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        """Start the controller, the outbox drainer and the ledger follower on the running loop."""
        loop = asyncio.get_running_loop()
        self.events.bind_loop(loop)
        self._tasks = [
            loop.create_task(self.controller.run(), name="trainer-controller"),
            loop.create_task(self.outbox.run(), name="trainer-outbox"),
            loop.create_task(self.level_ups.run(), name="trainer-level-ups"),
        ]

    def progress(self, campaign: str) -> HeroProgress:
        return hero_progress(self.campaigns, self.queue, campaign)

    def model_shape(self, hero: str, *, parameter_count: int = 0) -> ModelShape:
        """The hero's architecture (from its config.json) for the memory estimate."""
        spec = self.heroes.get(hero)
        shape = ModelShape.from_model_dir(spec.model_dir)
        count = parameter_count or spec.parameter_count
        return dataclasses.replace(shape, parameter_count=count) if count else shape

    async def _finish_running_quest(self, campaign: str, select: Callable[[Quest], bool], reason: str) -> str:
        """End the quest running now early (completed, after a checkpoint) if it is one of `campaign`'s that
        `select` picks; its name, or "" when none was asked to."""
        running_campaign, name = self.controller.current
        if running_campaign != campaign or not name:
            return ""
        quest = await asyncio.to_thread(self.queue.get, name)
        if not select(quest) or not await self.controller.finish_early_async(name, reason):
            return ""
        return name

    def running_campaign(self) -> str:
        campaign, quest = self.controller.current
        return campaign if quest else ""

    async def close(self) -> None:
        self.level_ups.close()  # ends its blocking ledger stream, so its thread can finish
        await self.controller.close()
        # Let the controller record the worker's last events (paused) before it is cancelled.
        controller_task = self._tasks[0] if self._tasks else None
        if controller_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(controller_task), 2.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self.store.close()
