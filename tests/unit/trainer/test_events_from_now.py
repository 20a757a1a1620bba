"""EventLog.follow(from_now=True): a live watcher gets only what is published after it starts, with no gap after
that, and no replay of the history; an explicit after_sequence wins over from_now."""

from __future__ import annotations

import asyncio

from services.trainer.events import EventLog
from services.trainer.models import EventKind
from services.trainer.store import TrainerStore


async def first_live_event(log: EventLog, follower) -> tuple[object, list[int]]:
    """Publish probes until the follower yields one (it cannot see a probe published before it started):
    returns that first event and the sequences of every probe published."""
    first = asyncio.ensure_future(anext(follower))
    probes = []
    while not first.done():
        probes.append(log.publish(EventKind.STEP, message="probe").sequence)
        await asyncio.wait([first], timeout=0.05)
    return first.result(), probes


async def test_from_now_skips_the_history_and_then_misses_nothing(tmp_path):
    log = EventLog(TrainerStore(tmp_path / "trainer.db"))
    log.bind_loop(asyncio.get_running_loop())
    history = [log.publish(EventKind.QUEST_QUEUED, message=f"old {i}").sequence for i in range(5)]
    follower = log.follow(0, from_now=True)
    try:
        first, probes = await first_live_event(log, follower)
        assert first.sequence in probes and first.sequence > history[-1]
        assert first.message == "probe"
        last = log.publish(EventKind.QUEST_COMPLETED, message="after").sequence
        seen = [first.sequence]
        while seen[-1] != last:
            seen.append((await anext(follower)).sequence)
        assert seen == list(range(first.sequence, last + 1))  # every event after the first one, in order
    finally:
        await follower.aclose()


async def test_after_sequence_wins_over_from_now(tmp_path):
    log = EventLog(TrainerStore(tmp_path / "trainer.db"))
    log.bind_loop(asyncio.get_running_loop())
    for i in range(5):
        log.publish(EventKind.STEP, step={"global_step": i + 1})
    replay = [e.sequence async for e in log.follow(2, from_now=True, history_only=True)]
    assert replay == [3, 4, 5]
    assert [e.sequence async for e in log.follow(0, from_now=False, history_only=True)] == [1, 2, 3, 4, 5]
