"""Saved series snapshots: a restarted trainer serves a long series from its snapshot plus the events logged since,
with the same result as parsing every event; the start-up warm-up loads the active campaign's Battle metrics."""

from __future__ import annotations

import time

import pytest

from services.trainer.events import EventLog
from services.trainer.models import EventKind
from services.trainer.series import SNAPSHOT_EVERY, WARM_METRICS, MetricSeries, Smoothing
from services.trainer.store import TrainerStore

CAMPAIGN = "campaigns/c"
EMA = Smoothing("ema", 0.9)


@pytest.fixture
def log(tmp_path):
    store = TrainerStore(tmp_path / "trainer.sqlite3")
    yield EventLog(store)
    store.close()


def publish_steps(log: EventLog, steps, campaign=CAMPAIGN, loss=lambda s: 3.0 / s):
    for step in steps:
        log.publish(EventKind.STEP, campaign=campaign, step={"global_step": step, "loss": loss(step),
                                                             "tokens_per_second": 50.0 + step % 7})


def test_a_restarted_series_reads_its_snapshot_not_the_step_events(log):
    publish_steps(log, range(1, SNAPSHOT_EVERY + 1))
    before = MetricSeries(log.store).read(CAMPAIGN, smoothing=EMA, max_points=500)
    log.store.execute("DELETE FROM events WHERE kind = ?", (EventKind.STEP.value,))  # as retention would
    after = MetricSeries(log.store).read(CAMPAIGN, smoothing=EMA, max_points=500)
    assert after.buckets == before.buckets and after.points == SNAPSHOT_EVERY


def test_snapshot_plus_the_newer_events_equals_a_full_parse(log):
    publish_steps(log, range(1, SNAPSHOT_EVERY + 501))
    MetricSeries(log.store).read(CAMPAIGN)  # saves a snapshot
    publish_steps(log, range(SNAPSHOT_EVERY + 501, SNAPSHOT_EVERY + 800))
    publish_steps(log, [42, SNAPSHOT_EVERY + 100], loss=lambda s: 99.0)  # repeated steps after the snapshot
    log.publish(EventKind.QUEST_COMPLETED, campaign=CAMPAIGN)
    restarted = MetricSeries(log.store).read(CAMPAIGN, smoothing=EMA, max_points=20000)
    log.store.execute("DELETE FROM series_snapshots")
    parsed = MetricSeries(log.store).read(CAMPAIGN, smoothing=EMA, max_points=20000)
    assert restarted == parsed and restarted.last_sequence == log.last_sequence
    assert {b.first_step: b.last for b in parsed.buckets}[42] == 99.0


def test_warm_up_loads_the_active_campaigns_battle_metrics_and_saved_series(log):
    now = time.time()
    log.store.execute("INSERT INTO campaigns (id, display_name, hero, state, create_time, update_time) "
                      "VALUES ('c', 'c', 'heroes/tiny', 'ACTIVE', ?, ?)", (now, now))
    publish_steps(log, range(1, SNAPSHOT_EVERY + 1), campaign="campaigns/old")
    MetricSeries(log.store).read("campaigns/old", "loss")  # long enough to be saved as a snapshot
    publish_steps(log, range(1, 30))
    series = MetricSeries(log.store)
    assert series.cached() == set()
    series.start_warming().join()
    assert series.warmed.is_set()
    assert series.cached() == {(CAMPAIGN, metric) for metric in WARM_METRICS} | {("campaigns/old", "loss")}
    assert series.read(CAMPAIGN).points == 29


def test_warm_up_ends_quietly_when_the_store_closes_under_it(tmp_path):
    store = TrainerStore(tmp_path / "trainer.sqlite3")
    series = MetricSeries(store)
    store.close()
    series.start_warming().join()
    assert series.warmed.is_set() and series.cached() == set()
