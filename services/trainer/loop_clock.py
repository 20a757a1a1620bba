"""Where the training loop's wall time goes, per campaign: the loop measures itself.

The controller is always in exactly one phase; `enter` charges the time since the last mark to the phase it
leaves, so the phases partition the trainer's wall time:

- `training`: the worker is between `started` and its job's terminal event (optimizer steps), minus saves;
- `worker_startup`: building the job, starting the process, imports, tokenising the quest, loading the model
  (everything before `started`), and ending the process after the terminal event;
- `checkpoint_save`: the worker's own measure of each save (`checkpoint_saved.save_seconds`), moved out of
  `training`;
- `waiting_for_data`: the run is RUNNING with an active campaign but no quest is ready (the hero loop asks the
  curriculum for the next batch, or quests are still validating);
- `idle`: paused or stopped.

`upload` (vault registration by the outbox) runs beside the loop, so it is counted on its own and is not part of
the partition; trials run in the curriculum service and are measured there (the campaign report adds them).
Totals persist in the trainer store (settings_kv, one JSON value per campaign), written at every phase change
and at least every `flush_every_s`, and feed the Prometheus counter `realm_trainer_loop_seconds_total`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from prometheus_client import Counter

KEY_PREFIX = "loop_time/"


class Phase(StrEnum):
    TRAINING = "training"
    WORKER_STARTUP = "worker_startup"
    CHECKPOINT_SAVE = "checkpoint_save"
    WAITING_FOR_DATA = "waiting_for_data"
    IDLE = "idle"


# Work beside the loop (not part of the wall-time partition).
UPLOAD = "upload"

LOOP_SECONDS = Counter("realm_trainer_loop_seconds", "Trainer wall time by loop phase (upload runs beside it)",
                       ["campaign", "phase"])
WORKER_LAUNCHES = Counter("realm_trainer_worker_launches", "Jobs given to a worker: a new process or a reused one",
                          ["campaign", "kind"])


class KeyValueStore(Protocol):
    def get_value(self, key: str, default: str = "") -> str: ...

    def set_value(self, key: str, value: str) -> None: ...


@dataclass
class LoopTime:
    """One campaign's totals (seconds by phase, upload seconds, worker launches) since `since` (epoch seconds)."""

    campaign: str
    seconds: dict[str, float] = field(default_factory=lambda: {p.value: 0.0 for p in Phase})
    upload_seconds: float = 0.0
    worker_starts: int = 0  # jobs that needed a new worker process
    worker_reuses: int = 0  # jobs handed to a worker that was already up
    since: float = 0.0

    @property
    def wall_seconds(self) -> float:
        return sum(self.seconds.values())

    @property
    def busy_share(self) -> float:
        """Share of the loop's wall time spent in optimizer steps (0 before anything was measured)."""
        wall = self.wall_seconds
        return self.seconds[Phase.TRAINING] / wall if wall > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "upload_seconds": self.upload_seconds, "worker_starts": self.worker_starts,
                "worker_reuses": self.worker_reuses, "since": self.since}

    @classmethod
    def from_dict(cls, campaign: str, data: dict[str, Any]) -> LoopTime:
        seconds = {p.value: float(data.get("seconds", {}).get(p.value, 0.0)) for p in Phase}
        return cls(campaign, seconds, float(data.get("upload_seconds", 0.0)), int(data.get("worker_starts", 0)),
                   int(data.get("worker_reuses", 0)), float(data.get("since", 0.0)))


class LoopClock:
    def __init__(self, store: KeyValueStore, *, monotonic: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, flush_every_s: float = 5.0) -> None:
        self.store = store
        self._monotonic = monotonic
        self._wall = wall
        self.flush_every_s = flush_every_s
        self._lock = threading.Lock()  # the outbox adds upload time from its thread
        self._totals: dict[str, LoopTime] = {}
        self._dirty: set[str] = set()
        self._campaign = ""
        self._phase: Phase | None = None
        self._mark = monotonic()
        self._last_flush = self._mark

    @property
    def phase(self) -> Phase | None:
        return self._phase

    def _loaded(self, campaign: str) -> LoopTime:
        totals = self._totals.get(campaign)
        if totals is None:
            raw = self.store.get_value(KEY_PREFIX + campaign, "")
            totals = LoopTime.from_dict(campaign, json.loads(raw)) if raw else LoopTime(campaign, since=self._wall())
            self._totals[campaign] = totals
        return totals

    def _charge(self, campaign: str, key: str, seconds: float) -> None:
        if not campaign or seconds <= 0:
            return
        totals = self._loaded(campaign)
        if key == UPLOAD:
            totals.upload_seconds += seconds
        else:
            totals.seconds[key] += seconds
        self._dirty.add(campaign)
        LOOP_SECONDS.labels(campaign, key).inc(seconds)

    def _close_interval(self) -> None:
        now = self._monotonic()
        if self._phase is not None:
            self._charge(self._campaign, self._phase.value, now - self._mark)
        self._mark = now

    def enter(self, campaign: str, phase: Phase) -> None:
        """The loop is now in `phase` for `campaign` ("" = none: the time is not charged to any campaign)."""
        with self._lock:
            changed = (campaign, phase) != (self._campaign, self._phase)
            self._close_interval()
            self._campaign, self._phase = campaign, phase
            if changed or self._mark - self._last_flush >= self.flush_every_s:
                self._flush_locked()

    def tick(self) -> None:
        """Charge the running interval (keeps totals and metrics fresh during a long phase)."""
        if self._phase is not None:
            self.enter(self._campaign, self._phase)

    def move(self, campaign: str, seconds: float, source: Phase, target: Phase) -> None:
        """Re-file time already spent inside `source` (e.g. a checkpoint save measured by the worker)."""
        with self._lock:
            self._close_interval()
            totals = self._loaded(campaign) if campaign else None
            if totals is None:
                return
            seconds = min(max(seconds, 0.0), totals.seconds[source])
            if seconds <= 0:
                return
            totals.seconds[source] -= seconds
            totals.seconds[target] += seconds
            LOOP_SECONDS.labels(campaign, target.value).inc(seconds)
            self._dirty.add(campaign)

    def add_upload(self, campaign: str, seconds: float) -> None:
        with self._lock:
            self._charge(campaign, UPLOAD, seconds)

    def count_launch(self, campaign: str, *, reused: bool) -> None:
        with self._lock:
            totals = self._loaded(campaign)
            if reused:
                totals.worker_reuses += 1
            else:
                totals.worker_starts += 1
            self._dirty.add(campaign)
            WORKER_LAUNCHES.labels(campaign, "reused" if reused else "started").inc()

    def get(self, campaign: str) -> LoopTime:
        """The campaign's totals, including the interval running now."""
        with self._lock:
            self._close_interval()
            totals = self._loaded(campaign)
            return LoopTime.from_dict(campaign, json.loads(json.dumps(totals.to_dict())))

    def flush(self) -> None:
        with self._lock:
            self._close_interval()
            self._flush_locked()

    def _flush_locked(self) -> None:
        for campaign in sorted(self._dirty):
            self.store.set_value(KEY_PREFIX + campaign, json.dumps(self._totals[campaign].to_dict(), sort_keys=True))
        self._dirty.clear()
        self._last_flush = self._monotonic()
