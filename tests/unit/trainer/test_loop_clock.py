"""The loop's time split: phases partition wall time, saves move out of training, totals persist per campaign."""

from __future__ import annotations

import pytest

from services.trainer.loop_clock import LOOP_SECONDS, LoopClock, Phase


class MemoryStore:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.writes = 0

    def get_value(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)

    def set_value(self, key: str, value: str) -> None:
        self.values[key] = value
        self.writes += 1


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    fake = FakeTime()
    store = MemoryStore()
    return LoopClock(store, monotonic=fake, wall=lambda: 1_800_000_000.0, flush_every_s=5.0), fake, store


def test_phases_partition_the_wall_time_and_saves_move_out_of_training(clock):
    loop, time, _ = clock
    loop.enter("campaigns/c", Phase.WORKER_STARTUP)
    time.now += 4
    loop.enter("campaigns/c", Phase.TRAINING)
    time.now += 50
    loop.move("campaigns/c", 3.0, Phase.TRAINING, Phase.CHECKPOINT_SAVE)
    time.now += 10
    loop.enter("campaigns/c", Phase.WAITING_FOR_DATA)
    time.now += 6
    loop.enter("campaigns/c", Phase.IDLE)
    time.now += 20
    totals = loop.get("campaigns/c")
    assert totals.seconds == {"training": 57.0, "worker_startup": 4.0, "checkpoint_save": 3.0,
                              "waiting_for_data": 6.0, "idle": 20.0}
    assert totals.wall_seconds == 90.0
    assert totals.busy_share == pytest.approx(57.0 / 90.0)
    assert totals.since == 1_800_000_000.0


def test_a_move_never_takes_more_than_the_phase_holds(clock):
    loop, time, _ = clock
    loop.enter("campaigns/c", Phase.TRAINING)
    time.now += 2
    loop.move("campaigns/c", 10.0, Phase.TRAINING, Phase.CHECKPOINT_SAVE)
    totals = loop.get("campaigns/c")
    assert (totals.seconds["training"], totals.seconds["checkpoint_save"]) == (0.0, 2.0)


def test_time_without_a_campaign_is_not_charged_and_campaigns_are_apart(clock):
    loop, time, _ = clock
    loop.enter("", Phase.IDLE)
    time.now += 100
    loop.enter("campaigns/a", Phase.TRAINING)
    time.now += 5
    loop.enter("campaigns/b", Phase.TRAINING)
    time.now += 7
    assert loop.get("campaigns/a").seconds["training"] == 5.0
    assert loop.get("campaigns/b").seconds["training"] == 7.0
    assert loop.get("campaigns/a").seconds["idle"] == 0.0


def test_totals_persist_and_a_new_clock_continues_them(clock):
    loop, time, store = clock
    loop.enter("campaigns/c", Phase.TRAINING)
    time.now += 30
    loop.add_upload("campaigns/c", 1.5)
    loop.count_launch("campaigns/c", reused=False)
    loop.count_launch("campaigns/c", reused=True)
    loop.flush()
    again = LoopClock(store, monotonic=time)
    totals = again.get("campaigns/c")
    assert totals.seconds["training"] == 30.0
    assert (totals.upload_seconds, totals.worker_starts, totals.worker_reuses) == (1.5, 1, 1)
    assert totals.wall_seconds == 30.0  # upload runs beside the loop


def test_a_long_phase_is_flushed_periodically_not_on_every_tick(clock):
    loop, time, store = clock
    loop.enter("campaigns/c", Phase.TRAINING)
    writes = store.writes
    time.now += 1
    loop.tick()
    assert store.writes == writes  # within flush_every_s
    time.now += 10
    loop.tick()
    assert store.writes == writes + 1


def test_the_prometheus_counter_follows_the_totals(clock):
    loop, time, _ = clock
    before = LOOP_SECONDS.labels("campaigns/metrics", "training")._value.get()
    loop.enter("campaigns/metrics", Phase.TRAINING)
    time.now += 12
    loop.enter("campaigns/metrics", Phase.IDLE)
    assert LOOP_SECONDS.labels("campaigns/metrics", "training")._value.get() - before == 12.0
