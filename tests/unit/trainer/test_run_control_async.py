"""The servicer's run control (RunController.*_async): the same behaviour as the inline calls, with the SQLite
and control-file I/O off the event loop — proven by holding the trainer database's write lock from another
connection while a call is in flight: the loop keeps running, and the call finishes once the lock is released."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time

import pytest

from services.kit.errors import FailedPrecondition
from services.trainer.intake import QuestHeader
from services.trainer.models import Desired, EventKind, QuestState, RunState


async def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


async def submit(domain, th, name: str):
    header = QuestHeader(display_name=name)
    return await domain.intake.submit(header, th.chunks_of(th.jsonl(th.GOOD_ROWS)))


@pytest.fixture
async def domain(tmp_path, tiny_hero_dir, th):
    made = th.make_domain(tmp_path, tiny_hero_dir)
    campaign = made.campaigns.create(hero="tiny", mantra=th.NO_MANTRA, display_name="c",
                                     config_overrides={"max_steps": 400})
    made.campaigns.activate(campaign.name)
    await made.start()
    try:
        yield made
    finally:
        await made.close()


async def test_async_control_pauses_resumes_stops_and_skips_like_the_inline_calls(domain, th):
    quest = await submit(domain, th, "long")
    nxt = await submit(domain, th, "next")
    await wait_until(lambda: (domain.queue.get(quest.name).steps_done or 0) >= 3)

    status = await domain.controller.pause_async("lunch")
    assert status.state is RunState.PAUSING and status.message == "lunch"
    await wait_until(lambda: domain.controller.status().state is RunState.PAUSED)
    assert domain.queue.get(quest.name).state is QuestState.PAUSED and domain.controller.desired is Desired.PAUSED
    again = await domain.controller.pause_async()  # no worker runs: nothing to send, the state stays
    assert again.state is RunState.PAUSED

    steps_at_pause = domain.queue.get(quest.name).steps_done
    await domain.controller.resume_async()
    await wait_until(lambda: domain.queue.get(quest.name).steps_done > steps_at_pause + 2)
    assert domain.controller.desired is Desired.RUNNING

    await domain.controller.stop_async("maintenance")
    await wait_until(lambda: domain.controller.status().state is RunState.STOPPED)
    with pytest.raises(FailedPrecondition) as caught:
        await domain.controller.skip_async(nxt.name)  # only the running (or paused) quest can be skipped
    assert caught.value.field == "name"
    await domain.controller.resume_async()
    await wait_until(lambda: domain.queue.get(quest.name).state is QuestState.RUNNING and domain.controller._attempt)
    await domain.controller.skip_async(quest.name, "enough")
    await wait_until(lambda: domain.queue.get(quest.name).state is QuestState.SKIPPED)
    assert domain.queue.get(quest.name).state_reason == "enough"
    await wait_until(lambda: domain.queue.get(nxt.name).state is QuestState.RUNNING)
    states = [e.run_state for e in domain.events.history(0, limit=10_000) if e.kind is EventKind.RUN_STATE_CHANGED]
    pausing = states.index(RunState.PAUSING)
    assert states[pausing + 1] is RunState.PAUSED and RunState.STOPPED in states[pausing:]


async def test_a_paused_quest_is_skipped_off_the_loop(domain, th):
    quest = await submit(domain, th, "long")
    await wait_until(lambda: (domain.queue.get(quest.name).steps_done or 0) >= 2)
    await domain.controller.pause_async()
    await wait_until(lambda: domain.controller.status().state is RunState.PAUSED)
    await domain.controller.skip_async(quest.name)
    skipped = domain.queue.get(quest.name)
    assert skipped.state is QuestState.SKIPPED and skipped.state_reason == "skipped while paused"
    assert [e.kind for e in domain.events.history(0, limit=10_000)][-1] is EventKind.QUEST_SKIPPED


@contextlib.contextmanager
def write_locked(path):
    """Another connection holds the database's write lock (SQLite's, not a Python one) until the block ends."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("COMMIT")
    finally:
        other.close()


@pytest.mark.parametrize("call", ["pause", "stop", "resume", "skip-paused"])
async def test_the_loop_keeps_running_while_a_control_call_waits_for_the_database(domain, th, call):
    quest = await submit(domain, th, "long")
    await wait_until(lambda: (domain.queue.get(quest.name).steps_done or 0) >= 2)
    control = domain.controller
    if call == "skip-paused":  # finishing a paused quest is a write (a running one's skip is a control file)
        await control.pause_async()
        await wait_until(lambda: control.status().state is RunState.PAUSED)
    calls = {"pause": lambda: control.pause_async("held"), "stop": lambda: control.stop_async("held"),
             "resume": control.resume_async, "skip-paused": lambda: control.skip_async(quest.name, "held")}
    ticks = 0
    with write_locked(domain.queue.store.path):
        task = asyncio.create_task(calls[call]())
        # Were the call's SQLite write on the loop, the loop would block inside it (up to SQLite's busy timeout)
        # and these turns of the loop would only run once the call had failed with "database is locked".
        for _ in range(50):
            await asyncio.sleep(0)
            ticks += 1
        assert not task.done()
    status = await task
    assert ticks == 50 and status.quest == quest.name
    if call in ("pause", "stop"):
        assert status.state in (RunState.PAUSING, RunState.STOPPING)
        assert control.desired is (Desired.PAUSED if call == "pause" else Desired.STOPPED)
    elif call == "resume":
        assert control.desired is Desired.RUNNING
    else:
        assert domain.queue.get(quest.name).state is QuestState.SKIPPED
