"""The run loop against a worker that speaks the real worker interface (tests/unit/trainer/protocol_worker.py)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest

from services.kit.errors import FailedPrecondition
from services.trainer.intake import QuestHeader
from services.trainer.models import EventKind, Priority, QuestState, RunState
from services.trainer.ports import GeneratedBatch, PlannedBatch


async def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


async def submit(domain, th, rows=None, *, name="q", priority=Priority.NORMAL, campaign=""):
    header = QuestHeader(campaign=campaign, display_name=name, priority=priority)
    return await domain.intake.submit(header, th.chunks_of(th.jsonl(rows or th.GOOD_ROWS)))


def kinds(domain, quest=None) -> list[str]:
    return [e.kind.value for e in domain.events.history(0, limit=10_000) if quest is None or e.quest == quest]


@pytest.fixture
async def running(tmp_path, tiny_hero_dir, th, request):
    """A started domain with an active campaign; `request.param` may carry controller settings."""
    params = getattr(request, "param", {}) or {}
    registry = th.MemoryRegistry()
    domain = th.make_domain(tmp_path, tiny_hero_dir, registry=registry, **params)
    campaign = domain.campaigns.create(hero="tiny", mantra=th.NO_MANTRA, display_name="c")
    domain.campaigns.activate(campaign.name)
    await domain.start()
    domain.registry = registry
    try:
        yield domain
    finally:
        await domain.close()


async def test_intake_queues_good_rejects_bad_and_waits_for_curriculum(tmp_path, tiny_hero_dir, th):
    validator = th.RuleValidator()
    domain = th.make_domain(tmp_path, tiny_hero_dir, validator=validator)
    campaign = domain.campaigns.create(hero="tiny", mantra=th.NO_MANTRA, display_name="c")
    domain.campaigns.activate(campaign.name)
    try:
        good = await submit(domain, th, name="good")
        assert good.state is QuestState.QUEUED and good.rows == 8 and len(good.sha256) == 64
        assert Path(good.file_path).read_bytes() == th.jsonl(th.GOOD_ROWS)
        assert good.validation["stats"]["tokens_max"] > 0

        bad = await submit(domain, th, [*th.GOOD_ROWS[:2], "{not json", {"text": 1}], name="bad")
        assert bad.state is QuestState.REJECTED
        assert [f["line"] for f in bad.validation["findings"]] == [3, 4]
        assert Path(bad.file_path).exists()  # a rejected quest is kept with its report

        long_row = {"messages": [{"role": "user", "content": "add " * 200}, {"role": "assistant", "content": "x"}]}
        too_long = await submit(domain, th, [th.GOOD_ROWS[0], long_row], name="long")
        assert too_long.state is QuestState.REJECTED
        finding = too_long.validation["findings"][0]
        assert finding["kind"] == "too_long" and finding["line"] == 2 and "max_seq_len is 64" in finding["message"]

        validator.available = False
        waiting = await submit(domain, th, name="later")
        assert waiting.state is QuestState.VALIDATING and "curriculum" in waiting.state_reason
        validator.available = True
        assert domain.intake.revalidate_pending() == 1
        assert domain.queue.get(waiting.name).state is QuestState.QUEUED
        assert kinds(domain).count("QUEST_REJECTED") == 2
        domain.queue.delete(bad.name)
        assert not Path(bad.file_path).parent.exists()
    finally:
        await domain.close()


async def test_queue_runs_in_order_and_checkpoints_are_registered(running, th):
    domain = running
    domain.controller.pause()  # hold the queue so both quests are waiting when it starts
    low = await submit(domain, th, name="low", priority=Priority.LOW)
    high = await submit(domain, th, name="high", priority=Priority.HIGH)
    domain.controller.resume()
    await wait_until(lambda: domain.queue.get(low.name).state is QuestState.COMPLETED)
    assert domain.queue.get(high.name).state is QuestState.COMPLETED
    assert domain.queue.get(high.name).start_time < domain.queue.get(low.name).start_time
    campaign = domain.campaigns.get(domain.campaigns.active().name)
    assert campaign.global_step == 12 and campaign.trained_tokens == 1200
    # The second quest continued from the first one's final checkpoint and global step.
    job = json.loads((Path(domain.queue.get(low.name).run_dir) / "job.json").read_text())
    assert job["global_step_offset"] == 6 and job["model_dir"].endswith("step-00000006")
    await wait_until(lambda: not domain.outbox.pending())
    registry = domain.registry
    assert len(registry.assets) == 6  # steps 2, 4, 6 of each quest
    latest = registry.aliases[f"{campaign.name}/aliases/latest"]
    assert registry.assets[latest]["lineage"]["global_step"] == 12
    assert registry.assets[latest]["lineage"]["quest"] == low.name
    # Local copies trimmed once confirmed; the newest of each run is kept.
    for quest in (high, low):
        kept = sorted(p.name for p in (Path(domain.queue.get(quest.name).run_dir) / "checkpoints").iterdir())
        assert len(kept) == 1
    events = kinds(domain, high.name)
    assert events[:2] == ["QUEST_QUEUED", "QUEST_STARTED"] and "QUEST_COMPLETED" in events
    assert events.count("STEP") == 6 and events.count("CHECKPOINT_SAVED") == 3
    assert domain.progress(campaign.name).xp == 1200


@pytest.mark.parametrize("running", [{"worker_env": {"PROTOCOL_WORKER_STEP_S": "0.05"}}], indirect=True)
async def test_pause_resume_stop_skip(running, th):
    domain = running
    name = domain.campaigns.active().name
    domain.campaigns.update(name, {"config_overrides": {"max_steps": 400}})
    quest = await submit(domain, th, name="long")
    nxt = await submit(domain, th, name="next")
    await wait_until(lambda: (domain.queue.get(quest.name).steps_done or 0) >= 3)

    status = domain.controller.pause("lunch")
    assert status.state is RunState.PAUSING
    await wait_until(lambda: domain.controller.status().state is RunState.PAUSED)
    paused = domain.queue.get(quest.name)
    assert paused.state is QuestState.PAUSED and paused.steps_done < 400
    assert domain.queue.get(nxt.name).state is QuestState.QUEUED  # pause holds the whole queue
    await asyncio.sleep(0.3)
    assert domain.queue.get(nxt.name).state is QuestState.QUEUED

    steps_at_pause = paused.steps_done
    domain.controller.resume()
    await wait_until(lambda: domain.queue.get(quest.name).steps_done > steps_at_pause + 2)
    assert domain.queue.get(quest.name).state is QuestState.RUNNING
    started = [e for e in domain.events.history(0, limit=10_000) if e.kind is EventKind.QUEST_STARTED]
    assert started[-1].attributes["resumed"] == "true"

    domain.controller.stop("maintenance")
    await wait_until(lambda: domain.controller.status().state is RunState.STOPPED)
    assert domain.queue.get(quest.name).state is QuestState.PAUSED

    with pytest.raises(FailedPrecondition):
        domain.controller.skip(nxt.name)  # only the running (or paused) quest can be skipped
    domain.controller.resume()
    await wait_until(lambda: domain.queue.get(quest.name).state is QuestState.RUNNING)
    domain.controller.skip(quest.name, "enough")
    await wait_until(lambda: domain.queue.get(quest.name).state is QuestState.SKIPPED)
    assert domain.queue.get(quest.name).state_reason == "enough"
    await wait_until(lambda: domain.queue.get(nxt.name).state is QuestState.RUNNING)


@pytest.mark.parametrize("running", [{"worker_env": {"PROTOCOL_WORKER_STEP_S": "0.05"}}], indirect=True)
async def test_pause_persists_across_a_trainer_restart(running, tmp_path, tiny_hero_dir, th):
    domain = running
    domain.campaigns.update(domain.campaigns.active().name, {"config_overrides": {"max_steps": 400}})
    quest = await submit(domain, th, name="long")
    await wait_until(lambda: domain.queue.get(quest.name).steps_done >= 2)
    domain.controller.pause()
    await wait_until(lambda: domain.controller.status().state is RunState.PAUSED)
    await domain.close()
    again = th.make_domain(tmp_path, tiny_hero_dir)
    await again.start()
    try:
        await asyncio.sleep(0.5)
        assert again.controller.status().state is RunState.PAUSED
        assert again.queue.get(quest.name).state is QuestState.PAUSED
    finally:
        await again.close()
    running.close = _noop  # already closed


async def _noop():
    return None


@pytest.mark.parametrize("running", [{"worker_env": {"PROTOCOL_WORKER_FAIL": "report"}}], indirect=True)
async def test_reported_failure_fails_the_quest_and_the_queue_goes_on(running, th):
    domain = running
    first = await submit(domain, th, name="first")
    second = await submit(domain, th, name="second")
    await wait_until(lambda: domain.queue.get(second.name).state is QuestState.FAILED)
    failed = domain.queue.get(first.name)
    assert failed.state is QuestState.FAILED and "masking check" in failed.state_reason
    assert failed.worker_restarts == 0  # a reported failure is not retried blindly
    assert domain.queue.retry(first.name).state is QuestState.QUEUED


@pytest.mark.parametrize("running", [{"worker_env": {"PROTOCOL_WORKER_FAIL": "crash_at=3"}}], indirect=True)
async def test_crashed_worker_resumes_from_its_last_checkpoint(running, th):
    domain = running
    quest = await submit(domain, th, name="crashy")
    await wait_until(lambda: domain.queue.get(quest.name).state is QuestState.COMPLETED)
    done = domain.queue.get(quest.name)
    assert done.worker_restarts == 1 and done.steps_done == 6
    restarted = [e for e in domain.events.history(0, limit=10_000) if e.kind is EventKind.WORKER_RESTARTED]
    assert len(restarted) == 1 and restarted[0].checkpoint.endswith("step-00000002")
    steps = [e.step["quest_step"] for e in domain.events.history(0, limit=10_000) if e.kind is EventKind.STEP]
    assert steps == [1, 2, 3, 4, 5, 6]  # step 3 died with the worker; resumed after checkpoint 2


@pytest.mark.parametrize("running", [{"worker_env": {"PROTOCOL_WORKER_FAIL": "crash_always"},
                                      "restart_budget": 2}], indirect=True)
async def test_restart_budget_then_failed_then_next_quest(running, th):
    domain = running
    quest = await submit(domain, th, name="doomed")
    await wait_until(lambda: domain.queue.get(quest.name).state is QuestState.FAILED)
    failed = domain.queue.get(quest.name)
    assert failed.worker_restarts == 3 and "restart budget is 2" in failed.state_reason
    assert kinds(domain, quest.name).count("WORKER_RESTARTED") == 2


@pytest.mark.parametrize("running", [{"worker_env": {"PROTOCOL_WORKER_IGNORE_CONTROL": "1",
                                                     "PROTOCOL_WORKER_STEP_S": "0.05"},
                                      "control_timeout_s": 0.5}], indirect=True)
async def test_a_worker_that_ignores_control_is_killed_and_the_request_applies(running, th):
    domain = running
    domain.campaigns.update(domain.campaigns.active().name, {"config_overrides": {"max_steps": 400}})
    quest = await submit(domain, th, name="deaf")
    await wait_until(lambda: domain.queue.get(quest.name).steps_done >= 2)
    domain.controller.skip(quest.name, "deaf worker")
    await wait_until(lambda: domain.queue.get(quest.name).state is QuestState.SKIPPED, timeout=10)


async def test_vault_down_during_training_registers_everything_once_it_returns(running, th):
    domain = running
    domain.registry.available = False
    quest = await submit(domain, th, name="offline")
    await wait_until(lambda: domain.queue.get(quest.name).state is QuestState.COMPLETED)
    await asyncio.sleep(0.3)
    pending = domain.outbox.pending()
    assert [r["global_step"] for r in pending] == [2, 4, 6]
    # Registrations go in order: the oldest is retried (with back-off) until the vault answers.
    assert pending[0]["attempts"] >= 2 and "vault is down" in pending[0]["last_error"]
    # Nothing is trimmed before the vault confirms it.
    assert len(list((Path(domain.queue.get(quest.name).run_dir) / "checkpoints").iterdir())) == 3
    domain.registry.available = True
    await wait_until(lambda: not domain.outbox.pending(), timeout=10)
    steps = sorted(a["lineage"]["global_step"] for a in domain.registry.assets.values())
    assert steps == [2, 4, 6]
    campaign = domain.campaigns.active()
    assert domain.registry.assets[domain.registry.aliases[f"{campaign.name}/aliases/latest"]]["lineage"][
        "global_step"] == 6
    assert campaign.latest_checkpoint_asset == domain.registry.aliases[f"{campaign.name}/aliases/latest"]
    assert kinds(domain).count("CHECKPOINT_REGISTERED") == 3


@pytest.mark.parametrize("running", [{"worker_env": {"PROTOCOL_WORKER_STEP_S": "0.05"}}], indirect=True)
async def test_trainer_crash_resumes_the_running_quest(running, tmp_path, tiny_hero_dir, th):
    domain = running
    domain.campaigns.update(domain.campaigns.active().name, {"config_overrides": {"max_steps": 30,
                                                                                 "checkpoint_every_steps": 5}})
    quest = await submit(domain, th, name="survivor")
    await wait_until(lambda: domain.queue.get(quest.name).steps_done >= 7)
    old_pid = domain.queue.get(quest.name).worker_pid
    # The trainer dies: its tasks stop without any shutdown; the worker (own process group) lives on.
    for task in domain._tasks:
        task.cancel()
    await asyncio.sleep(0.1)
    assert Path(f"/proc/{old_pid}").exists()
    domain.store.close()
    again = th.make_domain(tmp_path, tiny_hero_dir)
    await again.start()
    try:
        await wait_until(lambda: again.queue.get(quest.name).state is QuestState.COMPLETED)
        resumed = again.queue.get(quest.name)
        assert resumed.steps_done == 30 and resumed.worker_pid != old_pid
        started = [e for e in again.events.history(0, limit=10_000)
                   if e.kind is EventKind.QUEST_STARTED and e.quest == quest.name]
        assert started[-1].attributes["resumed"] == "true"
        job = json.loads((Path(resumed.run_dir) / "job.json").read_text())
        assert job["resume"] is True
    finally:
        await again.close()
    running.close = _noop


async def test_events_replay_from_a_sequence_and_follow_live(tmp_path, tiny_hero_dir, th):
    domain = th.make_domain(tmp_path, tiny_hero_dir)
    domain.events.bind_loop(asyncio.get_running_loop())
    try:
        for i in range(5):
            domain.events.publish(EventKind.STEP, step={"global_step": i + 1})
        replay = [e.sequence async for e in domain.events.follow(2, history_only=True)]
        assert replay == [3, 4, 5]
        only = [e async for e in domain.events.follow(0, kinds=[EventKind.QUEST_QUEUED], history_only=True)]
        assert only == []
        seen: list[int] = []

        async def watch():
            async for event in domain.events.follow(5):
                seen.append(event.sequence)
                if len(seen) == 3:
                    return

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.05)
        publisher = threading.Thread(target=lambda: [domain.events.publish(EventKind.STEP) for _ in range(3)])
        publisher.start()
        await asyncio.wait_for(watcher, 5)
        publisher.join()
        assert seen == [6, 7, 8]
    finally:
        await domain.close()


class Planner:
    def __init__(self) -> None:
        self.plans = 0
        self.configured: list[tuple[str, list[str]]] = []
        self.generated: list[PlannedBatch] = []

    def configure_skills(self, campaign: str, skills: list[str]) -> None:
        self.configured.append((campaign, skills))

    def plan_next_batch(self, campaign: str, *, preset: str, count: int) -> list[PlannedBatch]:
        self.plans += 1
        return [PlannedBatch(skill="skills/bin", level=1, count=count, seed=7 + self.plans, reason="weakest",
                             review_share=0.25)]

    def generate_batch(self, batch: PlannedBatch) -> GeneratedBatch:
        self.generated.append(batch)
        rows = [{"messages": [{"role": "user", "content": f"add({i}, {batch.seed})"},
                              {"role": "assistant", "content": str(i + batch.seed)}]} for i in range(batch.count)]
        return GeneratedBatch(jsonl=b"".join(json.dumps(r).encode() + b"\n" for r in rows),
                              sidecar_json=json.dumps({"schema_id": "chat_sft_v1", "skill": "bin", "level": 1}))


async def test_hero_loop_enqueues_generated_quests_when_the_queue_runs_low(tmp_path, tiny_hero_dir, th):
    th.write_hero(tmp_path / "heroes", tiny_hero_dir,
                  idle={"enabled": True, "skills": ["bin"], "queue_threshold": 1, "batch_rows": 4})
    planner = Planner()
    domain = th.make_domain(tmp_path, tiny_hero_dir, planner=planner)
    campaign = domain.campaigns.create(hero="tiny", mantra=th.NO_MANTRA, display_name="idle")
    domain.campaigns.activate(campaign.name)
    await domain.start()
    try:
        await wait_until(lambda: domain.queue.count(campaign=campaign.name, states={QuestState.COMPLETED}) >= 2)
        quests, _ = domain.queue.list(campaign=campaign.name, states=[QuestState.COMPLETED])
        assert {q.source for q in quests} == {"hero_loop"}
        assert quests[0].labels["skill"] == "bin" and quests[0].labels["level"] == "1"
        assert quests[0].rows == 4 and quests[0].schema_id == "chat_sft_v1"
        # The plan's review share reaches the generator and is shown on the quest.
        assert planner.generated[0].review_share == 0.25 and quests[0].labels["review_share"] == "0.25"
        assert planner.configured == [(campaign.name, ["bin"])]  # skills sent to the curriculum once
    finally:
        await domain.close()


async def test_crossing_an_xp_threshold_levels_the_hero_up(running, th):
    from services.trainer.progress import level_for_xp, xp_for_level

    assert [level_for_xp(x) for x in (0, 9_999, 10_000, 29_999, 30_000)] == [1, 1, 2, 2, 3]
    assert xp_for_level(4) == 70_000
    domain = running
    campaign = domain.campaigns.active()
    domain.campaigns.set_progress(campaign.name, global_step=50, trained_tokens=9_950)
    quest = await submit(domain, th, name="grind")
    await wait_until(lambda: domain.queue.get(quest.name).state is QuestState.COMPLETED)
    level_ups = [e for e in domain.events.history(0, limit=10_000) if e.kind is EventKind.LEVEL_UP]
    assert len(level_ups) == 1 and level_ups[0].attributes["level"] == "2"
    milestones = domain.campaigns.get(campaign.name).milestones
    assert [m.title for m in milestones] == ["Hero level 2"] and milestones[0].global_step == 51
    assert level_ups[0].attributes["scope"] == "hero"  # named apart from a skill's level (issue 15)
    progress = domain.progress(campaign.name)
    assert (progress.level, progress.xp, progress.xp_for_next_level) == (2, 10_550, 30_000)


@pytest.mark.parametrize("running", [{"worker_env": {"PROTOCOL_WORKER_STEP_S": "0.05"}}], indirect=True)
async def test_graceful_shutdown_checkpoints_and_the_next_start_resumes(running, tmp_path, tiny_hero_dir, th):
    domain = running
    domain.campaigns.update(domain.campaigns.active().name, {"config_overrides": {"max_steps": 30}})
    quest = await submit(domain, th, name="overnight")
    await wait_until(lambda: domain.queue.get(quest.name).steps_done >= 3)
    await domain.close()  # SIGTERM path: the worker is asked to checkpoint, the run stays RUNNING
    again = th.make_domain(tmp_path, tiny_hero_dir)
    assert again.queue.get(quest.name).state is QuestState.PAUSED
    assert again.controller.desired == "RUNNING"
    await again.start()
    try:
        await wait_until(lambda: again.queue.get(quest.name).state is QuestState.COMPLETED)
        steps = [e.step["quest_step"] for e in again.events.history(0, limit=10_000) if e.kind is EventKind.STEP]
        assert steps[-1] == 30 and len(steps) == len(set(steps))  # resumed exactly after the checkpoint
    finally:
        await again.close()
    running.close = _noop


async def test_hero_loop_survives_an_unreachable_curriculum(tmp_path, tiny_hero_dir, th):
    from services.kit.errors import Unavailable
    from services.trainer.hero_loop import HeroLoop

    class DownPlanner(Planner):
        def plan_next_batch(self, campaign, *, preset, count):
            raise Unavailable("curriculum: UNAVAILABLE: connection refused")

    th.write_hero(tmp_path / "heroes", tiny_hero_dir, idle={"enabled": True, "skills": ["bin"]})
    domain = th.make_domain(tmp_path, tiny_hero_dir)
    try:
        campaign = domain.campaigns.create(hero="tiny", mantra=th.NO_MANTRA, display_name="idle")
        loop = HeroLoop(planner=DownPlanner(), intake=domain.intake, queue=domain.queue,
                        campaigns=domain.campaigns, heroes=domain.heroes, min_interval_s=0)
        assert await loop.maybe_enqueue(campaign) == []
        assert "UNAVAILABLE" in loop.last_error
        working = HeroLoop(planner=Planner(), intake=domain.intake, queue=domain.queue,
                           campaigns=domain.campaigns, heroes=domain.heroes, min_interval_s=0)
        assert len(await working.maybe_enqueue(campaign)) == 1
        assert await working.maybe_enqueue(campaign) == []  # threshold 1 reached: nothing more
    finally:
        await domain.close()
