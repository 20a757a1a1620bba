"""The metric series behind the Tavern's charts: buckets keep spikes, smoothing is causal, repeats count once."""

from __future__ import annotations

import math

import pytest

from services.kit.errors import InvalidArgument
from services.trainer.events import EventLog
from services.trainer.models import EventKind
from services.trainer.series import MetricSeries, Smoothing
from services.trainer.store import TrainerStore

CAMPAIGN = "campaigns/c"


@pytest.fixture
def log(tmp_path):
    store = TrainerStore(tmp_path / "trainer.sqlite3")
    yield EventLog(store)
    store.close()


def publish_steps(log: EventLog, steps, loss=lambda s: 1.0 / s, campaign=CAMPAIGN):
    for step in steps:
        log.publish(EventKind.STEP, campaign=campaign, step={"global_step": step, "loss": loss(step),
                                                             "tokens_per_second": 100.0 + step})


def test_one_bucket_per_step_when_few_steps(log):
    publish_steps(log, range(1, 11))
    found = MetricSeries(log.store).read(CAMPAIGN, "loss", max_points=100)
    assert [b.first_step for b in found.buckets] == list(range(1, 11))
    assert all(b.count == 1 and b.min == b.max == b.mean == b.last == b.smoothed for b in found.buckets)
    assert found.bucket_steps == 1 and found.points == 10 and found.last_sequence == log.last_sequence


def test_buckets_keep_a_spike_as_their_max(log):
    publish_steps(log, range(1, 1001), loss=lambda s: 50.0 if s == 577 else 1.0)
    found = MetricSeries(log.store).read(CAMPAIGN, "loss", max_points=10)
    assert len(found.buckets) <= 11 and found.bucket_steps == 100
    spiked = [b for b in found.buckets if b.first_step <= 577 <= b.last_step]
    assert len(spiked) == 1 and spiked[0].max == 50.0 and spiked[0].min == 1.0
    assert sum(b.count for b in found.buckets) == 1000


def test_ema_is_causal_and_matches_the_formula(log):
    publish_steps(log, range(1, 201))
    series = MetricSeries(log.store)
    ema = Smoothing("ema", 0.9)
    before = {b.last_step: b.smoothed for b in series.read(CAMPAIGN, smoothing=ema, max_points=1000).buckets}
    expected = 1.0
    for step in range(2, 101):
        expected = 0.9 * expected + (1 - 0.9) * (1.0 / step)  # the chart computes 1 - w too
    assert before[100] == expected
    publish_steps(log, range(201, 10_201))
    after = series.read(CAMPAIGN, smoothing=ema, start_step=90, end_step=110, max_points=1000)
    assert {b.last_step: b.smoothed for b in after.buckets}[100] == before[100]


def test_a_repeated_step_counts_once_with_its_newest_value(log):
    publish_steps(log, range(1, 6))
    log.publish(EventKind.STEP, campaign=CAMPAIGN, step={"global_step": 3, "loss": 9.0})
    found = MetricSeries(log.store).read(CAMPAIGN)
    assert [(b.first_step, b.last) for b in found.buckets] == [(1, 1.0), (2, 0.5), (3, 9.0), (4, 0.25), (5, 0.2)]


def test_range_other_metric_and_other_campaign(log):
    publish_steps(log, range(1, 51))
    publish_steps(log, range(1, 5), campaign="campaigns/other")
    found = MetricSeries(log.store).read(CAMPAIGN, "tokens_per_second", start_step=10, end_step=19)
    assert [b.last for b in found.buckets] == [100.0 + s for s in range(10, 20)]
    assert found.first_step == 1 and found.last_step == 50 and found.points == 10


def test_incremental_reads_equal_a_fresh_read(log):
    series = MetricSeries(log.store)
    publish_steps(log, range(1, 100))
    series.read(CAMPAIGN)
    publish_steps(log, range(100, 300))
    log.publish(EventKind.QUEST_COMPLETED, campaign=CAMPAIGN)
    warm = series.read(CAMPAIGN, smoothing=Smoothing("ema", 0.5))
    cold = MetricSeries(log.store).read(CAMPAIGN, smoothing=Smoothing("ema", 0.5))
    assert warm == cold and warm.last_sequence == log.last_sequence


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"metric": "bogus"}, "metric"), ({"max_points": 10**6}, "max_points"), ({"start_step": -1}, "start_step"),
    ({"start_step": 9, "end_step": 3}, "start_step"), ({"campaign": ""}, "campaign"),
])
def test_bad_requests_name_their_field(log, kwargs, field):
    series = MetricSeries(log.store)
    arguments = {"campaign": CAMPAIGN, **kwargs}
    with pytest.raises(InvalidArgument) as raised:
        series.read(arguments.pop("campaign"), **arguments)
    assert raised.value.field == field


@pytest.mark.parametrize("weight", [1.0, -0.1, math.nan])
def test_smoothing_weight_must_be_below_one(weight):
    with pytest.raises(InvalidArgument):
        Smoothing("ema", weight)
