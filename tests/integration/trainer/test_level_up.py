"""Level-up effects with real servers: a LEVEL_UP appended to the vault ledger through the vault API makes the
trainer prune superseded hero-loop quests and emit LEVEL_UP on StreamEvents; the curriculum's PlanNextBatch then
plans the new level, so the hero loop's next quest carries it. Training stays paused: this is about the queue."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from realm.curriculum.v1 import curriculum_pb2 as cpb
from realm.sdk.trainer import campaign_report
from realm.trainer.v1 import trainer_pb2 as pb
from realm.vault.v1 import vault_pb2 as vpb

pytestmark = pytest.mark.integration

IDLE = {"enabled": True, "skills": ["bin"], "queue_threshold": 5, "batch_rows": 8, "preset": "balanced"}


async def call(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


async def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await call(predicate)
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not met within {timeout}s")


def quests_by_id(trainer, campaign: str) -> dict[str, pb.Quest]:
    quests = trainer.ListQuests(pb.ListQuestsRequest(campaign=campaign, page_size=100)).quests
    return {q.name: q for q in quests}


def level_up_ledger_event(campaign: str, to_level: int) -> vpb.AppendLedgerEventRequest:
    """As the curriculum announces a level change: from/to are mastered levels."""
    return vpb.AppendLedgerEventRequest(event=vpb.LedgerEvent(
        kind=vpb.LEDGER_EVENT_KIND_LEVEL_UP, campaign=campaign, message=f"bin mastered level {to_level}",
        attributes={"skill": "bin", "from_level": str(to_level - 1), "to_level": str(to_level),
                    "checkpoint": "assets/none", "mean_accuracy": "1.0"}))


async def test_ledger_level_up_prunes_hero_loop_quests_emits_and_the_next_quest_is_at_the_new_level(stack_factory):
    async with stack_factory(idle=IDLE, curriculum={"eval_window": 1, "auto_evaluate": False}) as stack:
        realm, domain = stack.realm, stack.trainer_domain
        trainer = realm.trainer
        await call(trainer.PauseTraining, pb.PauseTrainingRequest(reason="queue-only test"))
        created = (await call(trainer.CreateCampaign, pb.CreateCampaignRequest(
            campaign=pb.Campaign(display_name="ladder", hero="heroes/tiny", skills=["bin"])))).campaign
        await call(trainer.ActivateCampaign, pb.ActivateCampaignRequest(name=created.name))
        campaign = domain.campaigns.get(created.name)

        # Two generated quests of bin L1 (the hero loop, through the real curriculum and intake).
        generated = []
        for attempt in range(2):
            generated += await domain.hero_loop.maybe_enqueue(campaign, now=time.monotonic() + 100 * (attempt + 1))
        assert [q.labels["level"] for q in generated] == ["1", "1"], domain.hero_loop.last_error
        assert all(q.source == "hero_loop" and q.state.value == "QUEUED" for q in generated)
        # A user's quest and a sparring quest of the same skill and level are not the hero loop's to prune.
        rows = (await call(realm.curriculum.GenerateBatch, cpb.GenerateBatchRequest(
            skill="bin", level=1, count=4, seed=7))).jsonl
        user = await call(trainer.submit_quest_bytes, rows, display_name="mine", campaign=created.name,
                          labels={"skill": "bin", "level": "1"})
        sparring = await call(trainer.submit_quest_bytes, rows, display_name="spar", campaign=created.name,
                              priority="high", source="sparring")
        assert user.state == sparring.state == pb.QUEST_STATE_QUEUED

        # The curriculum levels bin up; its LEVEL_UP reaches the vault ledger (appended here through the API).
        recorded = await call(realm.curriculum.RecordEval, cpb.RecordEvalRequest(
            campaign=created.name, skill="bin", level=1, accuracy=1.0, checkpoint="assets/none", global_step=10))
        assert recorded.leveled_up and recorded.progress.training_level == 2
        appended = (await call(realm.vault.AppendLedgerEvent, level_up_ledger_event(created.name, 1))).event

        def level_ups():
            return [e for e in trainer.events(0, kinds=["level_up"], history_only=True)
                    if e.attributes.get("skill") == "bin"]

        (event,) = await wait_for(level_ups, what="a LEVEL_UP event on StreamEvents")
        assert event.campaign == created.name
        assert (event.attributes["from_level"], event.attributes["to_level"]) == ("0", "1")
        assert event.attributes["training_level"] == "2" and event.attributes["pruned"] == "2"
        quests = await call(quests_by_id, trainer, created.name)
        for quest in generated:
            assert quests[quest.name].state == pb.QUEST_STATE_SKIPPED
            assert quests[quest.name].state_reason == "superseded by level-up to L2"
        assert quests[user.name].state == quests[sparring.name].state == pb.QUEST_STATE_QUEUED

        # The same level-up appended again changes nothing (the trainer's cursor passes it, no second event).
        again = (await call(realm.vault.AppendLedgerEvent, level_up_ledger_event(created.name, 1))).event
        await wait_for(lambda: domain.level_ups.cursor >= again.sequence, what="the cursor passing the repeat")
        assert again.sequence > appended.sequence and len(await call(level_ups)) == 1
        assert await call(quests_by_id, trainer, created.name) == quests

        # The hero loop now generates at the curriculum's new training level.
        (fresh,) = await domain.hero_loop.maybe_enqueue(campaign, now=time.monotonic() + 1000)
        assert fresh.labels["level"] == "2" and fresh.labels["skill"] == "bin" and fresh.state.value == "QUEUED"

        # The campaign report reads all of this back through the SDK.
        report = await call(campaign_report, realm, created.name)
        (bin_skill,) = [s for s in report["skills"] if s["enabled"]]  # the campaign trains bin only
        assert bin_skill["skill"] == "bin" and bin_skill["training_level"] == 2
        assert [(c["from_level"], c["to_level"]) for c in bin_skill["levels"]] == [(0, 1)]
        assert report["quests"]["by_state"]["SKIPPED"] == 2 and report["quests"]["by_state"]["QUEUED"] == 3
        assert report["quests"]["by_source"] == {"hero_loop": 3, "upload": 1, "sparring": 1}
        assert report["trials"] == [] and report["curriculum_error"] == ""

        # The vault goes down and comes back: the follower reconnects from its cursor and sees the next level-up.
        cursor = domain.level_ups.cursor
        await stack.stop_vault()
        await asyncio.sleep(0.5)
        await stack.start_vault()
        recorded = await call(realm.curriculum.RecordEval, cpb.RecordEvalRequest(
            campaign=created.name, skill="bin", level=2, accuracy=1.0, checkpoint="assets/none", global_step=20))
        assert recorded.leveled_up and recorded.progress.training_level == 3

        def append_when_reachable():
            try:  # the test's own channel may still be in its reconnect back-off
                return realm.vault.AppendLedgerEvent(level_up_ledger_event(created.name, 2), timeout=2)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc
                return None

        await wait_for(append_when_reachable, timeout=30, what="the vault back")
        await wait_for(lambda: len(level_ups()) == 2, timeout=30, what="the level-up after the vault restart")
        assert domain.level_ups.cursor > cursor
        pruned = (await call(quests_by_id, trainer, created.name))[fresh.name]
        assert pruned.state == pb.QUEST_STATE_SKIPPED and pruned.state_reason == "superseded by level-up to L3"
