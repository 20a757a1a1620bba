"""The hero loop: when the active campaign's queue runs low, ask the curriculum what to train next, generate
that batch and enqueue it as a quest (source "hero_loop", labels skill/level/seed).

A plan made just before a level-up can name the old level: with the level-up follower wired in, a batch that a
level-up (handled after the plan was asked for) put below the skill's training level is not generated, or, when
the level-up lands while it is generated and validated, is pruned right away as the follower prunes queued ones.
Level-ups from before the plan do not count: the curriculum already planned with them (or with an override)."""

from __future__ import annotations

import asyncio
import time

import structlog

from services.kit.errors import RealmError
from services.trainer.campaigns import CampaignBook
from services.trainer.heroes import HeroRegistry
from services.trainer.intake import QuestHeader, QuestIntake
from services.trainer.levelups import LevelUpFollower
from services.trainer.models import WAITING_QUEST_STATES, Campaign, Priority, Quest, QuestState
from services.trainer.ports import BatchPlanner
from services.trainer.quests import QuestQueue

log = structlog.get_logger("realm.trainer.hero_loop")


class HeroLoop:
    def __init__(
        self,
        *,
        planner: BatchPlanner | None,
        intake: QuestIntake,
        queue: QuestQueue,
        campaigns: CampaignBook,
        heroes: HeroRegistry,
        min_interval_s: float = 10.0,
        level_ups: LevelUpFollower | None = None,
    ) -> None:
        self.planner = planner
        self.intake = intake
        self.queue = queue
        self.campaigns = campaigns
        self.heroes = heroes
        self.min_interval_s = min_interval_s
        self.level_ups = level_ups
        self._last_attempt = 0.0
        self._configured: set[str] = set()  # campaigns whose skills were sent to the curriculum
        self.last_error = ""

    def waiting(self, campaign: Campaign) -> int:
        return self.queue.count(campaign=campaign.name, states=WAITING_QUEST_STATES | {QuestState.PAUSED})

    async def maybe_enqueue(self, campaign: Campaign, *, now: float | None = None) -> list[Quest]:
        """Enqueue generated quests when the queue is below the hero's threshold; at most once per interval."""
        if self.planner is None:
            return []
        hero = self.heroes.get(campaign.hero)
        if not hero.idle.enabled or self.waiting(campaign) >= hero.idle.queue_threshold:
            return []
        now = time.monotonic() if now is None else now
        if now - self._last_attempt < self.min_interval_s:
            return []
        self._last_attempt = now
        try:
            if campaign.skills and campaign.name not in self._configured:
                await asyncio.to_thread(self.planner.configure_skills, campaign.name, list(campaign.skills))
                self._configured.add(campaign.name)
            mark = self.events_mark()
            batches = await asyncio.to_thread(
                self.planner.plan_next_batch, campaign.name, preset=hero.idle.preset, count=hero.idle.batch_rows
            )
            added = []
            for batch in batches:
                skill = batch.skill.removeprefix("skills/")
                if self._training_level(campaign.name, skill, mark) > batch.level:
                    log.info("planned batch is below the skill's training level; skipped", campaign=campaign.name,
                             skill=skill, level=batch.level)
                    continue
                generated = await asyncio.to_thread(self.planner.generate_batch, batch)
                header = QuestHeader(
                    campaign=campaign.name,
                    display_name=f"{batch.skill.removeprefix('skills/')} L{batch.level} seed {batch.seed}",
                    priority=Priority.NORMAL,
                    sidecar_json=generated.sidecar_json,
                    labels={"skill": batch.skill.removeprefix("skills/"), "level": str(batch.level),
                            "seed": str(batch.seed), "reason": batch.reason,
                            **({"review_share": f"{batch.review_share:g}"} if batch.review_share else {})},
                    source="hero_loop",
                )
                quest = await self.intake.submit(header, _one_chunk(generated.jsonl))
                floor = self._training_level(campaign.name, skill, mark)
                if floor > batch.level and self.level_ups is not None:
                    await asyncio.to_thread(self.level_ups.prune, campaign.name, skill, floor)
                    quest = self.queue.get(quest.name)
                added.append(quest)
            self.last_error = ""
            return added
        except RealmError as exc:
            self.last_error = exc.describe()
            log.warning("hero loop could not enqueue a quest", campaign=campaign.name, error=self.last_error)
            return []

    def events_mark(self) -> int:
        return self.level_ups.events.last_sequence if self.level_ups is not None else 0

    def _training_level(self, campaign: str, skill: str, after_sequence: int) -> int:
        if self.level_ups is None:
            return 0
        return self.level_ups.known_training_level(campaign, skill, after_sequence=after_sequence)


async def _one_chunk(data: bytes):
    yield data
