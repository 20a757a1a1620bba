"""Level-up effects: follow the vault ledger for LEVEL_UP events of the trainer's campaigns.

When the curriculum levels a skill up it appends a LEVEL_UP event to the vault ledger (campaign, attributes
skill / from_level / to_level / checkpoint / mean_accuracy). from_level / to_level are the curriculum's
*mastered* levels (its level_changes: 0 -> 1 when L1 is mastered), so the skill now trains at a higher level:
the curriculum's training level (asked through `SkillLevels`), else to_level + 1. For each event the follower
- prunes the campaign's waiting quests that the hero loop generated for that skill below that training level
  (SKIPPED, "superseded by level-up to L<training level>"); quests from users or sparring are left alone, and
- emits a LEVEL_UP event on the trainer's stream (attributes skill / from_level / to_level / training_level /
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
import json
import time
from dataclasses import dataclass

import structlog

from services.kit.errors import NotFound, RealmError
from services.trainer.campaigns import CampaignBook
from services.trainer.events import EventLog
from services.trainer.models import EventKind, Milestone, QuestState
from services.trainer.ports import LedgerEvent, LedgerFeed, LedgerSubscription, SkillLevels
from services.trainer.store import TrainerStore

log = structlog.get_logger("realm.trainer.levelups")

CURSOR_KEY = "ledger.cursor"
LEVEL_UP = "LEVEL_UP"
HERO_LOOP_SOURCE = "hero_loop"
PRUNABLE_STATES = (QuestState.QUEUED.value, QuestState.VALIDATING.value)


@dataclass(frozen=True)
class LevelUpOutcome:
    campaign: str
    skill: str
    from_level: int
    to_level: int
    training_level: int
    pruned: tuple[str, ...]  # quest names
    event_emitted: bool


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
        campaigns: CampaignBook,
        events: EventLog,
        feed: LedgerFeed | None,
        levels: SkillLevels | None = None,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
    ) -> None:
        self.store = store
        self.campaigns = campaigns
        self.events = events
        self.feed = feed
        self.levels = levels
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
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
        self.store.execute(
            "INSERT INTO settings_kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
            "CAST(MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)",
            (CURSOR_KEY, str(sequence)),
        )

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
        reason = f"superseded by level-up to L{training_level}"
        pruned: list[str] = []
        now = time.time()
        with self.store.transaction() as conn:
            rows = conn.execute(
                f"SELECT id, labels_json FROM quests WHERE campaign = ? AND source = ? "
                f"AND state IN ({','.join('?' * len(PRUNABLE_STATES))})",
                (campaign, HERO_LOOP_SOURCE, *PRUNABLE_STATES),
            ).fetchall()
            for row in rows:
                labels = json.loads(row["labels_json"] or "{}")
                if labels.get("skill", "").removeprefix("skills/") != skill:
                    continue
                level = _level(labels.get("level", ""), default=-1)
                if level < 0 or level >= training_level:
                    continue
                # Conditional on the state: a quest the controller has just started is not pruned.
                changed = conn.execute(
                    f"UPDATE quests SET state = ?, state_reason = ?, end_time = ?, worker_pid = 0 "
                    f"WHERE id = ? AND state IN ({','.join('?' * len(PRUNABLE_STATES))})",
                    (QuestState.SKIPPED.value, reason, now, row["id"], *PRUNABLE_STATES),
                ).rowcount
                if changed:
                    pruned.append(f"quests/{row['id']}")
        for name in pruned:
            self.events.publish(EventKind.QUEST_SKIPPED, campaign=campaign, quest=name, message=reason,
                                attributes={"reason": "level_up", "skill": skill,
                                            "training_level": str(training_level)})
        return pruned

    def known_training_level(self, campaign: str, skill: str, *, after_sequence: int = 0) -> int:
        """The highest training level announced by a handled level-up of this skill whose trainer event is newer
        than after_sequence (0: none)."""
        row = self.store.query_one(
            "SELECT MAX(CAST(json_extract(payload_json, '$.attributes.training_level') AS INTEGER)) AS level "
            "FROM events WHERE kind = ? AND campaign = ? AND sequence > ? "
            "AND json_extract(payload_json, '$.attributes.skill') = ?",
            (EventKind.LEVEL_UP.value, campaign, after_sequence, skill),
        )
        return int(row["level"] or 0) if row else 0

    def _already_emitted(self, campaign: str, skill: str, to_level: int) -> bool:
        row = self.store.query_one(
            "SELECT 1 FROM events WHERE kind = ? AND campaign = ? "
            "AND json_extract(payload_json, '$.attributes.skill') = ? "
            "AND json_extract(payload_json, '$.attributes.to_level') = ? LIMIT 1",
            (EventKind.LEVEL_UP.value, campaign, skill, str(to_level)),
        )
        return row is not None

    def _emit(self, campaign: str, skill: str, from_level: int, to_level: int, training_level: int,
              pruned: list[str], event: LedgerEvent) -> bool:
        if self._already_emitted(campaign, skill, to_level):
            return False
        attributes = {
            "skill": skill, "from_level": str(from_level), "to_level": str(to_level),
            "training_level": str(training_level), "pruned": str(len(pruned)),
            "ledger_sequence": str(event.sequence),
        }
        for key in ("checkpoint", "mean_accuracy"):
            if event.attributes.get(key):
                attributes[key] = event.attributes[key]
        message = f"{skill} mastered level {to_level}; training at L{training_level}" + (
            f"; {len(pruned)} queued quest(s) of lower levels pruned" if pruned else "")
        self.events.publish(EventKind.LEVEL_UP, campaign=campaign, message=message, attributes=attributes)
        current = self.campaigns.get(campaign)
        with contextlib.suppress(RealmError):  # an archived campaign keeps its milestones as they were
            self.campaigns.add_milestone(campaign, Milestone(
                title=f"{skill} L{to_level} mastered", description=message, reach_time=time.time(),
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
                    await asyncio.to_thread(self.apply, event)
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
