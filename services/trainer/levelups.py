"""Level-up effects: follow the vault ledger for LEVEL_UP events of the trainer's campaigns.

When the curriculum levels a skill up it appends a LEVEL_UP event to the vault ledger (campaign, attributes
skill / from_level / to_level / checkpoint / mean_accuracy). from_level / to_level are the curriculum's
*mastered* levels (its level_changes: 0 -> 1 when L1 is mastered), so the skill now trains at a higher level:
the curriculum's training level (asked through `SkillLevels`), else to_level + 1. For each event the follower
- prunes the campaign's waiting quests that the hero loop generated for that skill below that training level
  (SKIPPED, "superseded by level-up to L<training level>"); quests from users or sparring are left alone;
- ends such a quest that is running now early, at a checkpoint (COMPLETED, "completed early: superseded by
  level-up to L<n>"), so the hero trains at the new level at once instead of finishing rows of a mastered one
  (`finish_running`, wired by the trainer domain; best effort: a trainer restart in between lets it run on), and
- emits a LEVEL_UP event on the trainer's stream (attributes scope=skill / skill / from_level / to_level / training_level /
  pruned) and adds a campaign milestone.

Resumable and idempotent: the last ledger sequence handled is stored in the trainer's SQLite (settings_kv), an
event at or below it is ignored, pruning only touches waiting quests, and the trainer event is emitted once per
(campaign, skill, to_level) — so the same ledger event twice, or two ledger events for one level-up, change
nothing. When the vault (or the curriculum, for the training level) is unreachable the follower reconnects with
exponential back-off from its cursor, so a level-up is retried, never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from services.kit.errors import NotFound, RealmError
from services.trainer.campaigns import CampaignBook
from services.trainer.events import EventLog
from services.trainer.models import EventKind, Milestone, Quest
from services.trainer.ports import LedgerEvent, LedgerFeed, LedgerSubscription, SkillLevels
from services.trainer.quests import QuestQueue
from services.trainer.store import TrainerStore

log = structlog.get_logger("realm.trainer.levelups")

CURSOR_KEY = "ledger.cursor"
LEVEL_UP = "LEVEL_UP"
HERO_LOOP_SOURCE = "hero_loop"


@dataclass(frozen=True)
class LevelUpOutcome:
    campaign: str
    skill: str
    from_level: int
    to_level: int
    training_level: int
    pruned: tuple[str, ...]  # quest names
    event_emitted: bool


def superseded_reason(training_level: int) -> str:
    """Why a level-up pruned a waiting quest or ended the running one early."""
    return f"superseded by level-up to L{training_level}"


def outgrown(skill: str, training_level: int) -> Callable[[Quest], bool]:
    """Selects the hero-loop quests of `skill` generated for a level below `training_level`."""

    def below(quest: Quest) -> bool:
        if quest.source != HERO_LOOP_SOURCE or quest.labels.get("skill", "").removeprefix("skills/") != skill:
            return False
        level = _level(quest.labels.get("level", ""), default=-1)
        return 0 <= level < training_level

    return below


def _level(text: str, *, default: int = 0) -> int:
    try:
        return int(str(text).strip().removeprefix("L"))
    except ValueError:
        return default


class LevelUpFollower:
    def __init__(
        self,
        *,
        store: TrainerStore,
        queue: QuestQueue,
        campaigns: CampaignBook,
        events: EventLog,
        feed: LedgerFeed | None,
        levels: SkillLevels | None = None,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        finish_running: Callable[[str, Callable[[Quest], bool], str], Awaitable[str]] | None = None,
    ) -> None:
        self.store = store
        self.queue = queue
        self.campaigns = campaigns
        self.events = events
        self.feed = feed
        self.levels = levels
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        # (campaign, which quests, reason) -> the running quest asked to finish early, or "".
        self.finish_running = finish_running
        self.connected = False
        self.last_error = ""
        self._subscription: LedgerSubscription | None = None
        self._closing = False

    # ---- the cursor ----------------------------------------------------------------------------------------
    @property
    def cursor(self) -> int:
        return int(self.store.get_value(CURSOR_KEY, "0") or 0)

    def _advance(self, sequence: int) -> None:
        # Only forward: a replay from an older cursor never moves it back.
        self.store.raise_value(CURSOR_KEY, sequence)

    # ---- one event -------------------------------------------------------------------------------------------
    def apply(self, event: LedgerEvent) -> LevelUpOutcome | None:
        """Handle one ledger event; None when it was already handled, is not a level-up, or not our campaign."""
        if event.sequence and event.sequence <= self.cursor:
            return None
        outcome = None
        if event.kind == LEVEL_UP and event.campaign:
            outcome = self._level_up(event)
        if event.sequence:
            self._advance(event.sequence)
        return outcome

    def _level_up(self, event: LedgerEvent) -> LevelUpOutcome | None:
        try:
            campaign = self.campaigns.get(event.campaign)
        except (NotFound, RealmError):
            return None  # another trainer's campaign, or a malformed name
        attributes = event.attributes
        skill = attributes.get("skill", "").removeprefix("skills/")
        to_level = _level(attributes.get("to_level", ""))
        from_level = _level(attributes.get("from_level", ""), default=max(0, to_level - 1))
        if not skill or to_level <= 0:
            log.warning("LEVEL_UP ledger event without skill / to_level; ignored", sequence=event.sequence,
                        attributes=attributes)
            return None
        training_level = self.training_level(campaign.name, skill, to_level)
        pruned = self.prune(campaign.name, skill, training_level)
        emitted = self._emit(campaign.name, skill, from_level, to_level, training_level, pruned, event)
        log.info("skill levelled up", campaign=campaign.name, skill=skill, from_level=from_level,
                 to_level=to_level, training_level=training_level, pruned=len(pruned),
                 ledger_sequence=event.sequence)
        return LevelUpOutcome(campaign.name, skill, from_level, to_level, training_level, tuple(pruned), emitted)

    def training_level(self, campaign: str, skill: str, to_level: int) -> int:
        """The level the skill trains at now; Unavailable (curriculum down) propagates so the event is retried."""
        if self.levels is not None:
            level = self.levels.training_level(campaign, skill)
            if level > 0:
                return level
        return to_level + 1

    def prune(self, campaign: str, skill: str, training_level: int) -> list[str]:
        """SKIP the waiting hero-loop quests of this skill below training_level; returns their names."""
        reason = superseded_reason(training_level)
        pruned = self.queue.skip_waiting(campaign, source=HERO_LOOP_SOURCE, select=outgrown(skill, training_level),
                                         reason=reason)
        for name in pruned:
            self.events.publish(EventKind.QUEST_SKIPPED, campaign=campaign, quest=name, message=reason,
                                attributes={"reason": "level_up", "skill": skill,
                                            "training_level": str(training_level)})
        return pruned

    async def _finish_outgrown_running(self, outcome: LevelUpOutcome) -> None:
        if self.finish_running is None:
            return
        select = outgrown(outcome.skill, outcome.training_level)
        reason = superseded_reason(outcome.training_level)
        try:
            name = await self.finish_running(outcome.campaign, select, reason)
        except RealmError as exc:  # it ended meanwhile: nothing left to cut short
            log.info("running quest not ended early", campaign=outcome.campaign, error=exc.describe())
            return
        if name:
            log.info("running quest ends early", campaign=outcome.campaign, quest=name, reason=reason)

    def known_training_level(self, campaign: str, skill: str, *, after_sequence: int = 0) -> int:
        """The highest training level announced by a handled level-up of this skill whose trainer event is newer
        than after_sequence (0: none)."""
        return self.events.max_int_attribute(EventKind.LEVEL_UP, campaign=campaign, attribute="training_level",
                                             match={"skill": skill}, after_sequence=after_sequence)

    def _already_emitted(self, campaign: str, skill: str, to_level: int) -> bool:
        return self.events.has_event(EventKind.LEVEL_UP, campaign=campaign,
                                     match={"skill": skill, "to_level": str(to_level)})

    def _emit(self, campaign: str, skill: str, from_level: int, to_level: int, training_level: int,
              pruned: list[str], event: LedgerEvent) -> bool:
        if self._already_emitted(campaign, skill, to_level):
            return False
        attributes = {
            "scope": "skill", "skill": skill, "from_level": str(from_level), "to_level": str(to_level),
            "training_level": str(training_level), "pruned": str(len(pruned)),
            "ledger_sequence": str(event.sequence),
        }
        for key in ("checkpoint", "mean_accuracy"):
            if event.attributes.get(key):
                attributes[key] = event.attributes[key]
        message = f"skill {skill} reached level {to_level} (mastered); training at skill level {training_level}" + (
            f"; {len(pruned)} queued quest(s) of lower levels pruned" if pruned else "")
        self.events.publish(EventKind.LEVEL_UP, campaign=campaign, message=message, attributes=attributes)
        current = self.campaigns.get(campaign)
        with contextlib.suppress(RealmError):  # an archived campaign keeps its milestones as they were
            self.campaigns.add_milestone(campaign, Milestone(
                title=f"skill {skill} level {to_level} mastered", description=message, reach_time=time.time(),
                global_step=current.global_step))
        return True

    # ---- following the vault -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Follow the ledger until close(); reconnect with back-off from the stored cursor."""
        if self.feed is None:
            return
        delay = self.retry_initial_s
        while not self._closing:
            try:
                subscription = await asyncio.to_thread(self.feed.watch, after_sequence=self.cursor,
                                                       kinds=(LEVEL_UP,))
                self._subscription = subscription
                self.connected = True
                iterator = iter(subscription)
                while not self._closing:
                    event = await asyncio.to_thread(next, iterator, None)
                    if event is None:
                        break  # the vault ended the stream (shutting down): reconnect
                    outcome = await asyncio.to_thread(self.apply, event)
                    if outcome is not None:
                        await self._finish_outgrown_running(outcome)
                    delay = self.retry_initial_s
                self.last_error = "ledger stream ended"
            except asyncio.CancelledError:
                raise
            except RealmError as exc:
                self.last_error = exc.describe()
                log.warning("vault ledger unavailable; retrying", error=self.last_error, retry_in_s=delay)
            except Exception as exc:  # noqa: BLE001 - one bad event must not stop the follower for good
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("ledger follower failed; retrying", retry_in_s=delay)
            finally:
                self.connected = False
                self._subscription = None
            if self._closing:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max_s)

    def close(self) -> None:
        self._closing = True
        subscription = self._subscription
        if subscription is not None:
            with contextlib.suppress(Exception):
                subscription.cancel()
