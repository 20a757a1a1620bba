"""Level-up effects: the vault-ledger follower prunes superseded hero-loop quests and emits LEVEL_UP, once.

The ledger is a scripted in-process feed (FakeLedger) that can be "down" and ends streams like a restarting
vault; the domain (store, queue, events, campaigns) is the real one on tmp_path.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from services.kit.errors import FailedPrecondition, Unavailable
from services.trainer.intake import QuestHeader
from services.trainer.levelups import CURSOR_KEY
from services.trainer.models import EventKind, Priority, QuestState
from services.trainer.ports import LedgerEvent


class FakeSubscription:
    """Yields the ledger's events after a cursor, then blocks for new ones until cancelled or 'disconnected'."""

    def __init__(self, ledger: FakeLedger, after_sequence: int) -> None:
        self.ledger = ledger
        self.cursor = after_sequence
        self.cancelled = False
        self.generation = ledger.generation

    def __iter__(self):
        while True:
            with self.ledger.changed:
                while True:
                    if self.cancelled or self.generation != self.ledger.generation:
                        return  # cancelled, or the 'vault' restarted: the stream ends
                    pending = [e for e in self.ledger.events if e.sequence > self.cursor]
                    if pending:
                        break
                    self.ledger.changed.wait(0.05)
            for event in pending:
                self.cursor = event.sequence
                yield event

    def cancel(self) -> None:
        with self.ledger.changed:
            self.cancelled = True
            self.ledger.changed.notify_all()


class FakeLedger:
    def __init__(self) -> None:
        self.events: list[LedgerEvent] = []
        self.changed = threading.Condition()
        self.down = 0  # the next `down` watch() calls fail like an unreachable vault
        self.generation = 0
        self.watches: list[int] = []  # after_sequence of every (successful) watch

    def watch(self, *, after_sequence: int, kinds: tuple[str, ...]) -> FakeSubscription:
        assert kinds == ("LEVEL_UP",)
        if self.down:
            self.down -= 1
            raise Unavailable("vault: UNAVAILABLE: connection refused")
        self.watches.append(after_sequence)
        return FakeSubscription(self, after_sequence)

    def append(self, event: LedgerEvent) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def restart(self) -> None:
        """End every open stream (a vault restart); followers must reconnect from their cursor."""
        with self.changed:
            self.generation += 1
            self.changed.notify_all()


def level_up(sequence: int, campaign: str, skill: str = "bin", from_level: int = 0, to_level: int = 1,
             **extra: str) -> LedgerEvent:
    return LedgerEvent(sequence=sequence, kind="LEVEL_UP", campaign=campaign,
                       attributes={"skill": skill, "from_level": str(from_level), "to_level": str(to_level),
                                   "checkpoint": "assets/ck-1", "mean_accuracy": "0.93", **extra})


def add_quest(domain, campaign: str, quest_id: str, *, source: str, skill: str, level: int,
              state: QuestState = QuestState.QUEUED, priority: Priority = Priority.NORMAL):
    domain.queue.add(quest_id=quest_id, campaign=campaign, display_name=quest_id, priority=priority,
                     source=source, labels={"skill": skill, "level": str(level)}, schema_id="", sidecar_json="",
                     file_path="", rows=1, size_bytes=1, sha256="")
    if state is not QuestState.VALIDATING:
        domain.queue.set_validation(quest_id, {"accepted": True}, accepted=True)
    return domain.queue.get(quest_id)


def states(domain) -> dict[str, tuple[str, str]]:
    rows = domain.store.query("SELECT id, state, state_reason FROM quests ORDER BY id")
    return {r["id"]: (r["state"], r["state_reason"]) for r in rows}


def level_up_events(domain) -> list:
    return [e for e in domain.events.history(0, limit=10_000) if e.kind is EventKind.LEVEL_UP]


@pytest.fixture
def domain(tmp_path, tiny_hero_dir, th):
    domain = th.make_domain(tmp_path, tiny_hero_dir)
    yield domain
    domain.store.close()


def mixed_queue(domain, campaign: str) -> None:
    add_quest(domain, campaign, "loop-bin-1a", source="hero_loop", skill="bin", level=1)
    add_quest(domain, campaign, "loop-bin-1b", source="hero_loop", skill="bin", level=1,
              state=QuestState.VALIDATING)
    add_quest(domain, campaign, "loop-bin-2", source="hero_loop", skill="bin", level=2)
    add_quest(domain, campaign, "loop-syllo-1", source="hero_loop", skill="syllo", level=1)
    add_quest(domain, campaign, "user-bin-1", source="upload", skill="bin", level=1)
    add_quest(domain, campaign, "spar-bin-1", source="sparring", skill="bin", level=1, priority=Priority.HIGH)


def test_level_up_prunes_superseded_hero_loop_quests_and_emits_once(domain):
    campaign = domain.campaigns.create(hero="tiny", display_name="road").name
    other = domain.campaigns.create(hero="tiny", display_name="other").name
    mixed_queue(domain, campaign)
    add_quest(domain, other, "other-bin-1", source="hero_loop", skill="bin", level=1)
    # A finished hero-loop quest of the old level is history, not something to prune.
    done = add_quest(domain, campaign, "loop-bin-done", source="hero_loop", skill="bin", level=1)
    domain.queue.finish(done.name, QuestState.COMPLETED, "")

    outcome = domain.level_ups.apply(level_up(7, campaign))

    assert outcome is not None and outcome.event_emitted
    assert sorted(outcome.pruned) == ["quests/loop-bin-1a", "quests/loop-bin-1b"]
    after = states(domain)
    assert after["loop-bin-1a"] == ("SKIPPED", "superseded by level-up to L2")
    assert after["loop-bin-1b"] == ("SKIPPED", "superseded by level-up to L2")
    for kept in ("loop-bin-2", "loop-syllo-1", "user-bin-1", "spar-bin-1", "other-bin-1"):
        assert after[kept] == ("QUEUED", ""), kept
    assert after["loop-bin-done"][0] == "COMPLETED"
    (event,) = level_up_events(domain)
    assert event.campaign == campaign
    # from/to are the curriculum's mastered levels (L1 mastered); the skill now trains at L2.
    assert {k: event.attributes[k] for k in ("skill", "from_level", "to_level", "training_level", "pruned")} == {
        "skill": "bin", "from_level": "0", "to_level": "1", "training_level": "2", "pruned": "2"}
    assert event.attributes["checkpoint"] == "assets/ck-1" and event.attributes["ledger_sequence"] == "7"
    skipped = [e for e in domain.events.history(0, limit=10_000) if e.kind is EventKind.QUEST_SKIPPED]
    assert sorted(e.quest for e in skipped) == ["quests/loop-bin-1a", "quests/loop-bin-1b"]
    assert [m.title for m in domain.campaigns.get(campaign).milestones] == ["skill bin level 1 mastered"]
    assert event.attributes["scope"] == "skill"  # named apart from the hero's XP level (issue 15)
    assert event.message.startswith("skill bin reached level 1 (mastered); training at skill level 2")
    assert domain.level_ups.cursor == 7

    # The same ledger event again (a replay after a reconnect) changes nothing.
    events_before = domain.events.last_sequence
    assert domain.level_ups.apply(level_up(7, campaign)) is None
    assert states(domain) == after and domain.events.last_sequence == events_before
    # A second ledger event for the same level-up (e.g. appended twice) prunes nothing new and emits nothing.
    add_quest(domain, campaign, "user-late", source="upload", skill="bin", level=1)
    again = domain.level_ups.apply(level_up(9, campaign))
    assert again is not None and again.pruned == () and not again.event_emitted
    assert len(level_up_events(domain)) == 1 and domain.level_ups.cursor == 9
    assert len(domain.campaigns.get(campaign).milestones) == 1


def test_events_of_other_campaigns_or_kinds_only_move_the_cursor(domain):
    campaign = domain.campaigns.create(hero="tiny", display_name="road").name
    add_quest(domain, campaign, "loop-bin-1", source="hero_loop", skill="bin", level=1)
    assert domain.level_ups.apply(level_up(3, "campaigns/not-ours")) is None
    assert domain.level_ups.apply(LedgerEvent(sequence=4, kind="REGISTERED", campaign=campaign)) is None
    assert domain.level_ups.apply(level_up(5, campaign, skill="")) is None  # malformed: no skill
    assert states(domain)["loop-bin-1"] == ("QUEUED", "") and level_up_events(domain) == []
    assert domain.level_ups.cursor == 5
    # Without the curriculum's word, the skill trains one above the mastered level: L2 quests stay.
    add_quest(domain, campaign, "loop-bin-2", source="hero_loop", skill="bin", level=2)
    outcome = domain.level_ups.apply(level_up(6, campaign))
    assert outcome.training_level == 2 and outcome.pruned == ("quests/loop-bin-1",)
    assert states(domain)["loop-bin-2"] == ("QUEUED", "")


class Levels:
    """The curriculum's training level per (campaign, skill); `down` makes it unreachable."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.down = False

    def training_level(self, campaign: str, skill: str) -> int:
        if self.down:
            raise Unavailable("curriculum: UNAVAILABLE")
        return self.level


def test_the_curriculum_training_level_decides_and_an_unreachable_curriculum_defers_the_event(
        tmp_path, tiny_hero_dir, th):
    levels = Levels(3)  # e.g. an override: after mastering L1 the campaign trains L3
    domain = th.make_domain(tmp_path, tiny_hero_dir, levels=levels)
    try:
        campaign = domain.campaigns.create(hero="tiny", display_name="road").name
        for level in (1, 2, 3):
            add_quest(domain, campaign, f"loop-bin-{level}", source="hero_loop", skill="bin", level=level)
        levels.down = True
        with pytest.raises(Unavailable):
            domain.level_ups.apply(level_up(4, campaign))
        assert domain.level_ups.cursor == 0 and level_up_events(domain) == []  # not consumed: retried later
        assert all(state == "QUEUED" for state, _ in states(domain).values())
        levels.down = False
        outcome = domain.level_ups.apply(level_up(4, campaign))
        assert sorted(outcome.pruned) == ["quests/loop-bin-1", "quests/loop-bin-2"]
        assert states(domain)["loop-bin-1"] == ("SKIPPED", "superseded by level-up to L3")
        assert states(domain)["loop-bin-3"] == ("QUEUED", "") and domain.level_ups.cursor == 4
    finally:
        domain.store.close()


def test_a_pruned_quest_cannot_be_started_or_requeued_by_a_late_validation(domain):
    campaign = domain.campaigns.create(hero="tiny", display_name="road").name
    add_quest(domain, campaign, "picked", source="hero_loop", skill="bin", level=1)
    add_quest(domain, campaign, "validating", source="hero_loop", skill="bin", level=1,
              state=QuestState.VALIDATING)
    domain.level_ups.apply(level_up(1, campaign))
    # The controller had already picked it: starting it now is refused instead of reviving it.
    with pytest.raises(FailedPrecondition, match="SKIPPED"):
        domain.queue.mark_started("picked", run_dir="", global_step_offset=0, trained_tokens_offset=0)
    # A validation that finishes after the prune leaves the quest SKIPPED.
    assert domain.queue.set_validation("validating", {"accepted": True}, accepted=True).state is QuestState.SKIPPED
    assert states(domain)["picked"][0] == "SKIPPED"


async def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_follower_reconnects_with_backoff_and_resumes_from_its_stored_cursor(tmp_path, tiny_hero_dir, th):
    ledger = FakeLedger()
    ledger.down = 2  # the vault is unreachable at first
    domain = th.make_domain(tmp_path, tiny_hero_dir, ledger=ledger)
    campaign = domain.campaigns.create(hero="tiny", display_name="road").name
    add_quest(domain, campaign, "loop-bin-1", source="hero_loop", skill="bin", level=1)
    add_quest(domain, campaign, "loop-bin-2", source="hero_loop", skill="bin", level=2)
    ledger.append(LedgerEvent(sequence=1, kind="REGISTERED", campaign=campaign))
    ledger.append(level_up(2, campaign))
    await domain.start()
    try:
        await wait_until(lambda: states(domain)["loop-bin-1"][0] == "SKIPPED")
        assert ledger.watches == [0]  # two refused attempts, then one stream from the start
        assert states(domain)["loop-bin-2"][0] == "QUEUED"
        # The vault restarts: the follower reconnects from its cursor, so nothing is replayed.
        ledger.restart()
        await wait_until(lambda: len(ledger.watches) == 2)
        assert ledger.watches[1] == 2
        ledger.append(level_up(3, campaign, from_level=1, to_level=2))
        await wait_until(lambda: states(domain)["loop-bin-2"][0] == "SKIPPED")
        assert [e.attributes["to_level"] for e in level_up_events(domain)] == ["1", "2"]
    finally:
        await domain.close()

    # A new trainer process on the same database starts where the old one stopped.
    restarted = th.make_domain(tmp_path, tiny_hero_dir, ledger=ledger)
    assert restarted.store.get_value(CURSOR_KEY) == "3"
    await restarted.start()
    try:
        await wait_until(lambda: len(ledger.watches) == 3)
        assert ledger.watches[2] == 3
        await asyncio.sleep(0.2)
        assert len(level_up_events(restarted)) == 2
    finally:
        await restarted.close()


class RacingPlanner:
    """Plans bin L1; applies a ledger level-up (L1 mastered) in the middle of planning or generating."""

    def __init__(self, during: str) -> None:
        self.during = during
        self.domain = None
        self.campaign = ""
        self.generated = 0
        self.sequence = 100

    def _level_up(self, phase: str) -> None:
        if phase == self.during:
            self.sequence += 1
            self.domain.level_ups.apply(level_up(self.sequence, self.campaign))

    def configure_skills(self, campaign, skills) -> None:
        pass

    def plan_next_batch(self, campaign, *, preset, count):
        from services.trainer.ports import PlannedBatch

        self._level_up("plan")
        return [PlannedBatch(skill="skills/bin", level=1, count=count, seed=self.sequence)]

    def generate_batch(self, batch):
        import json

        from services.trainer.ports import GeneratedBatch

        self._level_up("generate")
        self.generated += 1
        rows = [{"messages": [{"role": "user", "content": f"{i:b}+1"}, {"role": "assistant", "content": f"{i + 1:b}"}]}
                for i in range(batch.count)]
        return GeneratedBatch(jsonl=b"".join(json.dumps(r).encode() + b"\n" for r in rows), sidecar_json="")


@pytest.mark.parametrize("during", ["plan", "generate", "before"])
async def test_hero_loop_drops_a_batch_a_level_up_overtook(tmp_path, tiny_hero_dir, th, during):
    th.write_hero(tmp_path / "heroes", tiny_hero_dir,
                  idle={"enabled": True, "skills": ["bin"], "queue_threshold": 5, "batch_rows": 4})
    planner = RacingPlanner(during)
    domain = th.make_domain(tmp_path, tiny_hero_dir, planner=planner)
    try:
        campaign = domain.campaigns.get(domain.campaigns.create(hero="tiny", mantra=th.NO_MANTRA, display_name="road").name)
        planner.domain, planner.campaign = domain, campaign.name
        if during == "before":
            # A level-up handled before the plan: whatever the curriculum plans now (e.g. an override back to
            # L1 for review) is what it wants.
            domain.level_ups.apply(level_up(1, campaign.name))
        added = await domain.hero_loop.maybe_enqueue(campaign, now=time.monotonic() + 100)
        if during == "plan":
            assert added == [] and planner.generated == 0  # not even generated
        elif during == "generate":
            (quest,) = added
            assert quest.state is QuestState.SKIPPED and quest.state_reason == "superseded by level-up to L2"
        else:
            (quest,) = added
            assert quest.state is QuestState.QUEUED and quest.labels["level"] == "1"
    finally:
        domain.store.close()


async def start_running(tmp_path, tiny_hero_dir, th, *, quest_id: str, source: str, level: int, max_steps: int):
    ledger = FakeLedger()
    domain = th.make_domain(tmp_path, tiny_hero_dir, ledger=ledger, registry=th.MemoryRegistry(),
                            worker_env={"PROTOCOL_WORKER_STEP_S": "0.05"})
    campaign = domain.campaigns.create(hero="tiny", mantra=th.NO_MANTRA, display_name="road").name
    domain.campaigns.update(campaign, {"config_overrides": {"max_steps": max_steps}})
    domain.campaigns.activate(campaign)
    header = QuestHeader(campaign=campaign, display_name=quest_id, source=source,
                         labels={"skill": "bin", "level": str(level)})
    await domain.start()
    try:
        quest = await domain.intake.submit(header, th.chunks_of(th.jsonl(th.GOOD_ROWS)))
        await wait_until(lambda: (domain.queue.get(quest.name).steps_done or 0) >= 3)
    except BaseException:
        await domain.close()
        raise
    return domain, ledger, campaign, quest


async def test_a_level_up_ends_the_running_hero_loop_quest_of_that_skill_early_at_a_checkpoint(
        tmp_path, tiny_hero_dir, th):
    domain, ledger, campaign, quest = await start_running(tmp_path, tiny_hero_dir, th, quest_id="loop-bin-1",
                                                          source="hero_loop", level=1, max_steps=2000)
    try:
        ledger.append(level_up(1, campaign))  # L1 mastered: bin trains at L2 now
        await wait_until(lambda: domain.queue.get(quest.name).state is QuestState.COMPLETED)
        ended = domain.queue.get(quest.name)
        assert ended.state_reason == "completed early: superseded by level-up to L2"
        assert 3 <= ended.steps_done < 2000
        # its last steps were saved, not thrown away: the campaign goes on from them
        assert domain.campaigns.get(campaign).global_step == ended.steps_done
    finally:
        await domain.close()


@pytest.mark.parametrize(("quest_id", "source", "level"), [("user-bin-1", "upload", 1),
                                                           ("loop-bin-2", "hero_loop", 2)])
async def test_a_level_up_lets_a_running_quest_it_did_not_outgrow_run_to_its_end(
        tmp_path, tiny_hero_dir, th, quest_id, source, level):
    domain, ledger, campaign, quest = await start_running(tmp_path, tiny_hero_dir, th, quest_id=quest_id,
                                                          source=source, level=level, max_steps=60)
    try:
        ledger.append(level_up(1, campaign))  # while it runs (3 of its 60 steps done)
        await wait_until(lambda: level_up_events(domain))
        await wait_until(lambda: domain.queue.get(quest.name).state is QuestState.COMPLETED)
        ended = domain.queue.get(quest.name)
        assert (ended.state_reason, ended.steps_done) == ("completed", 60)
    finally:
        await domain.close()
