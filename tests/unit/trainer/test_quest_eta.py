"""Queued-quest ETAs: steps counted the way the worker counts them, durations from the intake's token count and
the campaign's recent wall-clock throughput, start times summed over the quests ahead."""

from __future__ import annotations

import pytest

from services.trainer.models import Priority, Quest, QuestState
from services.trainer.quest_eta import (
    StepSample,
    Throughput,
    calibration,
    estimate_queue,
    estimate_steps,
    recent_throughput,
)
from services.trainer.worker.config import TrainingConfig

CONFIG = TrainingConfig(max_seq_len=128, micro_batch_size=4, gradient_accumulation_steps=2, epochs=3)


def quest(name: str, state=QuestState.QUEUED, rows=100, tokens=6400, steps_done=0, steps_total=0) -> Quest:
    return Quest(name.removeprefix("quests/"), name, "campaigns/c", Priority.NORMAL, state, 0, rows=rows,
                 steps_done=steps_done, steps_total=steps_total,
                 validation={"stats": {"tokens_total": float(tokens)}} if tokens else {})


def test_steps_follow_packing_batches_accumulation_and_epochs():
    # 6400 tokens pack into 50 sequences of 128 -> 13 micro batches of 4 -> 7 steps of 2 -> 3 epochs.
    assert estimate_steps(100, 6400, CONFIG) == (21, 19200)
    unpacked = TrainingConfig(max_seq_len=128, micro_batch_size=4, packing=False)
    assert estimate_steps(10, 6400, unpacked) == (3, 6400)  # one sequence per row
    capped = TrainingConfig(max_seq_len=128, micro_batch_size=4, max_steps=26)
    assert estimate_steps(100, 6400, capped) == (26, 12800)  # max_steps wins: twice the 13 steps of an epoch
    exact = TrainingConfig(max_seq_len=128, micro_batch_size=4, examples_per_step=8, epochs=2)
    assert estimate_steps(100, 6400, exact) == (26, 12800)  # 100 rows, 8 a step -> 13 steps an epoch


def test_throughput_is_wall_clock_tokens_per_second_within_each_quest():
    samples = [StepSample("quests/a", 100.0, 1000, 999.0), StepSample("quests/a", 110.0, 3000, 999.0),
               StepSample("quests/b", 500.0, 3000, 999.0), StepSample("quests/b", 530.0, 6000, 999.0)]
    found = recent_throughput(samples)  # the gap between quests (worker start, idle) is not throughput
    assert found.tokens_per_second == pytest.approx(5000 / 40)
    assert recent_throughput(samples[:1]).tokens_per_second == 999.0  # one sample: the worker's own figure
    assert recent_throughput([]) == Throughput(0.0, "no steps logged yet for this campaign")


def test_queue_start_times_add_up_the_quests_ahead():
    order = [quest("quests/run", QuestState.RUNNING, steps_done=5, steps_total=21),
             quest("quests/q1"), quest("quests/q2", tokens=12800)]
    found = estimate_queue(order, lambda _q: CONFIG, Throughput(100.0, "test"), running_eta=40.0)
    assert [(e.quest, e.position) for e in found] == [("quests/run", 0), ("quests/q1", 1), ("quests/q2", 2)]
    running, first, second = found
    assert (running.steps, running.duration_seconds, running.starts_in_seconds) == (21, 40.0, 0.0)
    assert first.duration_seconds == pytest.approx(19200 / 100) and first.starts_in_seconds == 40.0
    assert second.starts_in_seconds == pytest.approx(40.0 + 192.0) and second.tokens == 38400
    assert all(e.known for e in found)


def test_a_paused_quest_counts_what_is_left_and_runs_first():
    order = [quest("quests/p", QuestState.PAUSED, steps_done=15, steps_total=21), quest("quests/q")]
    paused, queued = estimate_queue(order, lambda _q: CONFIG, Throughput(100.0, "test"))
    assert paused.position == 1 and paused.steps == 21
    assert paused.duration_seconds == pytest.approx(19200 * 6 / 21 / 100)
    assert queued.position == 2 and queued.starts_in_seconds == pytest.approx(paused.duration_seconds)


def test_unknowns_say_why_and_make_later_start_times_unknown():
    order = [quest("quests/no-count", tokens=0), quest("quests/after")]
    first, after = estimate_queue(order, lambda _q: CONFIG, Throughput(100.0, "test"))
    assert not first.known and first.basis == "no token count for this quest"
    assert after.duration_seconds > 0 and not after.known  # its own duration is known, its start is not
    nothing = estimate_queue([quest("quests/x")], lambda _q: CONFIG, Throughput(0.0, "no steps logged yet"))
    assert not nothing[0].known and "no steps logged yet" in nothing[0].basis


def test_rows_too_long_to_share_a_sequence_take_one_each():
    # 40 rows of 80 tokens: 25 sequences' worth of tokens, but best fit cannot put two rows in 128 tokens.
    config = TrainingConfig(max_seq_len=128, micro_batch_size=4)
    assert estimate_steps(40, 3200, config) == (10, 3200)


def test_finished_quests_calibrate_what_the_intake_count_misses():
    config = TrainingConfig(max_seq_len=128, micro_batch_size=4)
    # The worker really took 8 steps where the formula says 4 (e.g. a mantra doubled each row).
    done = quest("quests/done", QuestState.COMPLETED, rows=40, tokens=1600, steps_done=8, steps_total=8)
    assert estimate_steps(40, 1600, config)[0] == 4
    scale = calibration([done], config)
    assert scale == 2.0
    assert calibration([done], TrainingConfig(max_seq_len=128, micro_batch_size=4, max_steps=7)) == 1.0
    [queued] = estimate_queue([quest("quests/next", rows=40, tokens=1600)], lambda _q: config,
                              Throughput(100.0, "test"), scale=scale)
    assert (queued.steps, queued.tokens) == (8, 3200) and queued.duration_seconds == pytest.approx(32.0)
