"""Metric series from the trainer's STEP events: downsampled by step buckets that keep min/max/mean, smoothed
causally over the whole history.

Why causal and over the whole history: a bucket's smoothed value is the smoothed value at its last step, which
depends only on the steps up to it — so the number shown for step N never changes as the run grows, whatever
window or zoom level is asked for. A step logged twice (a worker that resumed from an earlier checkpoint and
repeated steps) counts once, with its newest value.

Per (campaign, metric) the parsed series is cached (compact arrays) and extended with the events newer than the
cached ones, so a long run is parsed from the event payloads once. The cache is also saved as a snapshot (two
packed arrays in the series_snapshots table) every SNAPSHOT_EVERY new steps, and the trainer loads the snapshots
at start in a background thread (`start_warming`): right after a restart a 200,000-step chart costs a blob read
plus the few events logged since the last snapshot, not a JSON scan of every step event. A snapshot also keeps
steps whose events the event log's retention has trimmed, as the in-memory cache always did.
"""

from __future__ import annotations

import math
import sqlite3
import sys
import threading
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from services.kit.errors import InvalidArgument
from services.kit.logs import get_logger
from services.trainer.models import CampaignState, EventKind
from services.trainer.store import TrainerStore

log = get_logger("realm.trainer.series")

METRICS = ("loss", "tokens_per_second", "learning_rate", "grad_norm", "eta_seconds", "trained_tokens",
           "memory_bytes")
DEFAULT_POINTS = 2000
MAX_POINTS = 20000
READ_BATCH = 50_000
SNAPSHOT_EVERY = 2_000  # new steps between two saved snapshots of a series
WARM_METRICS = ("loss", "tokens_per_second")  # what the Battle page draws: warmed for the active campaign
SNAPSHOT_SCHEMA = """
CREATE TABLE IF NOT EXISTS series_snapshots (
    campaign TEXT NOT NULL,
    metric TEXT NOT NULL,
    -- every event up to this sequence is in the arrays
    sequence INTEGER NOT NULL,
    -- little-endian int64 steps and float64 values, in step order
    steps BLOB NOT NULL,
    step_values BLOB NOT NULL,
    PRIMARY KEY (campaign, metric)
)
"""


@dataclass(frozen=True)
class Smoothing:
    kind: str = "none"  # "none" | "ema"
    weight: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("none", "ema"):
            raise InvalidArgument(f"unknown smoothing {self.kind!r}; use none or ema", field="smoothing")
        if not (0.0 <= self.weight < 1.0) or math.isnan(self.weight):
            raise InvalidArgument(f"must be in [0, 1), got {self.weight}", field="smoothing_weight")

    def apply(self, values: list[float]) -> list[float]:
        if self.kind == "none" or not values:
            return list(values)
        weight, rest = self.weight, 1.0 - self.weight
        smoothed = [values[0]]
        last = values[0]
        for value in values[1:]:
            last = weight * last + rest * value  # same operation order as the Tavern's chart.js
            smoothed.append(last)
        return smoothed


@dataclass(frozen=True)
class Bucket:
    first_step: int
    last_step: int
    count: int
    min: float
    max: float
    mean: float
    last: float
    smoothed: float


@dataclass(frozen=True)
class Series:
    campaign: str
    metric: str
    buckets: list[Bucket]
    bucket_steps: int
    points: int
    first_step: int
    last_step: int
    last_sequence: int
    smoothing: Smoothing


@dataclass
class _Cached:
    steps: array = field(default_factory=lambda: array("q"))
    values: array = field(default_factory=lambda: array("d"))
    sequence: int = 0
    saved_points: int = 0  # len(steps) when the snapshot was last saved


def _packed(numbers: array) -> bytes:
    if sys.byteorder == "big":
        numbers = array(numbers.typecode, numbers)
        numbers.byteswap()
    return numbers.tobytes()


def _unpacked(typecode: str, blob: bytes) -> array:
    numbers = array(typecode)
    numbers.frombytes(blob)
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers


class MetricSeries:
    def __init__(self, store: TrainerStore) -> None:
        self.store = store
        self._cache: dict[tuple[str, str], _Cached] = {}
        self._lock = threading.Lock()
        self.warmed = threading.Event()  # set once start_warming's thread is done (tests and benches wait on it)
        store.execute(SNAPSHOT_SCHEMA)

    def start_warming(self) -> threading.Thread:
        """Load the saved series (and the active campaign's Battle metrics) in a background thread, off the
        event loop, so the first chart after a restart is served from memory."""
        thread = threading.Thread(target=self.warm, name="trainer-series-warm", daemon=True)
        thread.start()
        return thread

    def cached(self) -> set[tuple[str, str]]:
        """The (campaign, metric) series held in memory."""
        with self._lock:
            return set(self._cache)

    def warm(self) -> None:
        try:
            pairs = {(row["campaign"], row["metric"])
                     for row in self.store.query("SELECT campaign, metric FROM series_snapshots")}
            active = self.store.query("SELECT id FROM campaigns WHERE state = ?", (CampaignState.ACTIVE.value,))
            pairs |= {(f"campaigns/{row['id']}", metric) for row in active for metric in WARM_METRICS}
            for campaign, metric in sorted(pairs):
                with self._lock:
                    self._refresh(campaign, metric)
        except sqlite3.ProgrammingError:  # the trainer stopped (store closed) while warming: nothing to keep
            log.info("series warm-up ended by shutdown")
        finally:
            self.warmed.set()

    def read(self, campaign: str, metric: str = "loss", *, start_step: int = 0, end_step: int = 0,
             max_points: int = 0, smoothing: Smoothing = Smoothing()) -> Series:
        metric = metric or "loss"
        if metric not in METRICS:
            raise InvalidArgument(f"unknown metric {metric!r}; one of {', '.join(METRICS)}", field="metric")
        if not campaign:
            raise InvalidArgument("campaign is required", field="campaign")
        if start_step < 0 or end_step < 0:
            raise InvalidArgument("step bounds must be >= 0", field="start_step" if start_step < 0 else "end_step")
        if end_step and start_step > end_step:
            raise InvalidArgument(f"start_step {start_step} is after end_step {end_step}", field="start_step")
        if max_points < 0 or max_points > MAX_POINTS:
            raise InvalidArgument(f"must be between 1 and {MAX_POINTS}, got {max_points}", field="max_points")
        with self._lock:
            cached = self._refresh(campaign, metric)
            steps, values, sequence = cached.steps[:], cached.values[:], cached.sequence  # copies: a memcpy each
        smoothed = smoothing.apply(values)
        low = bisect_left(steps, start_step) if start_step else 0
        high = bisect_right(steps, end_step) if end_step else len(steps)
        buckets, width = _bucketize(steps[low:high], values[low:high], smoothed[low:high],
                                    max_points or DEFAULT_POINTS)
        return Series(campaign, metric, buckets, width, high - low, steps[0] if steps else 0,
                      steps[-1] if steps else 0, sequence, smoothing)

    def _refresh(self, campaign: str, metric: str) -> _Cached:
        key = (campaign, metric)
        cached = self._cache.get(key) or self._load_snapshot(campaign, metric)
        # The newest event of any kind, read first: everything up to it is included, nothing after it, so a
        # follower that starts after it sees each later step exactly once.
        row = self.store.query_one("SELECT MAX(sequence) AS last FROM events")
        snapshot = int(row["last"] or 0) if row else 0
        while cached.sequence < snapshot:
            rows = self.store.query(
                "SELECT sequence, json_extract(payload_json, '$.step.global_step') AS step, "
                "json_extract(payload_json, ?) AS value FROM events WHERE kind = ? AND campaign = ? "
                "AND sequence > ? AND sequence <= ? ORDER BY sequence LIMIT ?",
                (f"$.step.{metric}", EventKind.STEP.value, campaign, cached.sequence, snapshot, READ_BATCH))
            if not rows:
                break
            for row in rows:
                cached.sequence = row["sequence"]
                if row["step"] is None or row["value"] is None:
                    continue
                step, value = int(row["step"]), float(row["value"])
                if cached.steps and step <= cached.steps[-1]:
                    _replace(cached, step, value)
                else:
                    cached.steps.append(step)
                    cached.values.append(value)
            if len(rows) < READ_BATCH:
                break
        cached.sequence = max(cached.sequence, snapshot)
        self._cache[key] = cached
        if len(cached.steps) - cached.saved_points >= SNAPSHOT_EVERY:
            self._save_snapshot(campaign, metric, cached)
        return cached

    def _load_snapshot(self, campaign: str, metric: str) -> _Cached:
        row = self.store.query_one("SELECT sequence, steps, step_values FROM series_snapshots "
                                   "WHERE campaign = ? AND metric = ?", (campaign, metric))
        if row is None:
            return _Cached()
        steps, values = _unpacked("q", row["steps"]), _unpacked("d", row["step_values"])
        if len(steps) != len(values):  # never written so; start over from the events rather than trust it
            return _Cached()
        return _Cached(steps, values, int(row["sequence"]), len(steps))

    def _save_snapshot(self, campaign: str, metric: str, cached: _Cached) -> None:
        self.store.execute(
            "INSERT INTO series_snapshots (campaign, metric, sequence, steps, step_values) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(campaign, metric) DO UPDATE SET sequence = excluded.sequence, steps = excluded.steps, "
            "step_values = excluded.step_values",
            (campaign, metric, cached.sequence, _packed(cached.steps), _packed(cached.values)))
        cached.saved_points = len(cached.steps)


def _replace(cached: _Cached, step: int, value: float) -> None:
    """A repeated step: its newest value wins; a step logged out of order is inserted in place."""
    index = bisect_left(cached.steps, step)
    if index < len(cached.steps) and cached.steps[index] == step:
        cached.values[index] = value
    else:
        cached.steps.insert(index, step)
        cached.values.insert(index, value)


def _bucketize(steps: list[int], values: list[float], smoothed: list[float], max_points: int
               ) -> tuple[list[Bucket], int]:
    """Buckets of `width` steps aligned to multiples of width (stable boundaries as the run grows)."""
    if not steps:
        return [], 1
    span = steps[-1] - steps[0] + 1
    width = max(1, math.ceil(span / max_points))
    buckets: list[Bucket] = []
    start = 0
    while start < len(steps):
        index = steps[start] // width
        end = start
        while end < len(steps) and steps[end] // width == index:
            end += 1
        chunk = values[start:end]
        buckets.append(Bucket(steps[start], steps[end - 1], end - start, min(chunk), max(chunk),
                              math.fsum(chunk) / len(chunk), chunk[-1], smoothed[end - 1]))
        start = end
    return buckets, width
