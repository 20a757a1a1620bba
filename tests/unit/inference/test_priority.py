"""Interactive first: the admission planner, the bound's pause, and the engine yielding background rows to an
interactive request (tiny hero, fp32, CPU)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from dataclasses import dataclass, field

import pytest

from services.inference.backend import FINISH_LENGTH, Summary, collect
from services.inference.engine import EngineConfig
from services.inference.params import GenerationLimits, SamplingParams
from services.inference.priority import Activity, BackgroundPolicy, Preempted, plan_admissions
from services.inference.transformers_backend import LoadOptions, TransformersBackend

LIMITS = GenerationLimits()


@dataclass(eq=False)
class Row:
    background: bool
    submitted_at: float = 0.0
    params: object = field(init=False)

    def __post_init__(self) -> None:
        self.params = SamplingParams.build(LIMITS, background=self.background)


def test_interactive_requests_are_admitted_before_background_ones():
    waiting = collections.deque([Row(True), Row(False), Row(True), Row(False)])
    admitted, preempted = plan_admissions(waiting, [], 8, Activity())
    # Both interactive ones, then exactly one background one (one background prefill per step).
    assert [r.background for r in admitted] == [False, False, True]
    assert preempted == [] and len(waiting) == 1 and waiting[0].background


def test_background_waits_while_an_interactive_request_cannot_be_admitted():
    running = [Row(False), Row(False)]
    waiting = collections.deque([Row(True), Row(False)])
    admitted, preempted = plan_admissions(waiting, running, 2, Activity())
    assert admitted == [] and preempted == [] and len(waiting) == 2


def test_a_full_batch_preempts_the_newest_background_row_for_an_interactive_request():
    old_bg, new_bg, chat = Row(True), Row(True), Row(False)
    activity = Activity()
    admitted, preempted = plan_admissions(collections.deque([chat]), [Row(False), old_bg, new_bg], 3, activity)
    assert admitted == [chat] and preempted == [new_bg] and activity.preemptions == 1


def test_background_rows_are_capped_by_max_rows():
    activity = Activity(BackgroundPolicy(max_rows=1))
    admitted, _ = plan_admissions(collections.deque([Row(True)]), [Row(True)], 8, activity)
    assert admitted == []


def test_waiting_past_the_bound_behind_background_pauses_background_work():
    now = [100.0]
    activity = Activity(BackgroundPolicy(max_interactive_delay_seconds=2.0), clock=lambda: now[0])
    activity.note_interactive_admitted(1.0, behind_background=True)
    assert activity.background_allowed() and activity.bound_exceeded == 0
    activity.note_interactive_admitted(5.0, behind_background=False)  # not background's fault
    assert activity.background_allowed()
    activity.note_interactive_admitted(3.0, behind_background=True)
    assert activity.bound_exceeded == 1 and not activity.background_allowed() and not activity.idle()
    now[0] += 2.5
    assert activity.background_allowed() and activity.idle()


def test_idle_means_no_interactive_request_in_flight():
    activity = Activity()
    with activity.track(background=True):
        assert activity.idle() and activity.background_requests == 1
        with activity.track(background=False):
            assert not activity.idle() and activity.interactive_requests == 1
    assert activity.idle() and activity.background_requests == 0


BOUND_SECONDS = 30.0  # generous: the check is that the engine yields, not how fast this machine is


@pytest.fixture
async def small_batch(hero_dir):
    activity = Activity(BackgroundPolicy(max_rows=2, max_interactive_delay_seconds=BOUND_SECONDS))
    loaded = TransformersBackend.load(hero_dir, LoadOptions(), limits=LIMITS,
                                      engine_config=EngineConfig(max_batch_size=2, max_queue=8, activity=activity),
                                      model_label="priority")
    yield loaded, activity
    await loaded.close()


async def test_a_chat_request_takes_a_background_slot_within_the_bound(small_batch):
    backend, activity = small_batch
    background = SamplingParams.build(LIMITS, max_new_tokens=1500, background=True)
    running = [asyncio.Event(), asyncio.Event()]
    outcomes: dict[int, str] = {}

    async def background_work(index: int) -> None:
        try:
            async for event in backend.generate_stream(f"background {index}", background):
                running[index].set()
                if isinstance(event, Summary):
                    outcomes[index] = event.finish_reason
        except Preempted:
            outcomes[index] = "preempted"

    tasks = [asyncio.create_task(background_work(i)) for i in range(2)]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in running)), 120)
    assert backend.engine.running_count == 2  # the batch is full of background rows

    chat = await collect(backend.generate_stream("1011 + 0110 =", SamplingParams.build(LIMITS, max_new_tokens=8)))

    assert chat.summary.finish_reason == FINISH_LENGTH
    assert chat.summary.queue_seconds <= BOUND_SECONDS
    assert activity.preemptions == 1 and activity.bound_exceeded == 0
    finished = [i for i in range(2) if i in outcomes]
    assert [outcomes[i] for i in finished] == ["preempted"]  # one gave way; the other is still generating
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
