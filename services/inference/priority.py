"""Interactive first: which waiting requests a batch admits, which background rows give way, and when the host
has spare capacity for background tasks.

Background requests (idle tasks: evals of older checkpoints, transfer baselines) only fill slots that no
interactive request (chat, trials) wants:
- a background request is admitted only while no interactive one waits, and at most one per step, so a burst
  of background prefills cannot stand between an arriving interactive request and its slot;
- an interactive request that finds the batch full takes the slot of the newest background row, which ends
  with ABORTED ("preempted"; its caller retries later);
- the bound (`inference.background.max_interactive_delay_seconds`): an interactive request that waited longer
  than it while background rows held the batch pauses background admission (and task claims) for as long again.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from services.kit.errors import Aborted


@dataclass(frozen=True)
class BackgroundPolicy:
    # Background rows in one batch at most (the rest of the batch stays free for interactive arrivals).
    max_rows: int = 8
    # The bound an interactive request is never held back by background work beyond (see the module doc).
    max_interactive_delay_seconds: float = 2.0


class Preempted(Aborted):
    """A background request gave its batch slot to an interactive one: retry it when the host is idle."""


class _Queued(Protocol):
    params: Any  # SamplingParams (has .background)
    submitted_at: float


class Activity:
    """Requests in flight on this host by priority, and the yield counters; shared by the pool and every
    engine, thread-safe (engines run in worker threads)."""

    def __init__(self, policy: BackgroundPolicy | None = None, clock=time.perf_counter) -> None:
        self.policy = policy or BackgroundPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight = collections.Counter()
        self.preemptions = 0
        self.bound_exceeded = 0
        self._paused_until = 0.0
        self.longest_interactive_wait_behind_background = 0.0

    @contextlib.contextmanager
    def track(self, background: bool) -> Iterator[None]:
        key = "background" if background else "interactive"
        with self._lock:
            self._in_flight[key] += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[key] -= 1

    @property
    def interactive_requests(self) -> int:
        return self._in_flight["interactive"]

    @property
    def background_requests(self) -> int:
        return self._in_flight["background"]

    def background_allowed(self) -> bool:
        return self._clock() >= self._paused_until

    def idle(self) -> bool:
        """Spare capacity for background tasks: no interactive request in flight and no pause."""
        return self.interactive_requests == 0 and self.background_allowed()

    def note_preempted(self, count: int) -> None:
        with self._lock:
            self.preemptions += count

    def note_interactive_admitted(self, waited_seconds: float, behind_background: bool) -> None:
        if not behind_background:
            return
        with self._lock:
            self.longest_interactive_wait_behind_background = max(
                self.longest_interactive_wait_behind_background, waited_seconds)
            bound = self.policy.max_interactive_delay_seconds
            if waited_seconds > bound:
                self.bound_exceeded += 1
                self._paused_until = self._clock() + bound


def plan_admissions(waiting: collections.deque, running: Sequence[_Queued], max_batch_size: int,
                    activity: Activity) -> tuple[list, list]:
    """(admitted, preempted): the waiting requests to admit now (removed from `waiting`, interactive ones
    first in arrival order) and the running background rows that must leave to make room for them."""
    interactive = [s for s in waiting if not s.params.background]
    background = [s for s in waiting if s.params.background]
    running_background = [s for s in running if s.params.background]
    free = max_batch_size - len(running)
    shortfall = len(interactive) - free
    preempted = running_background[::-1][:max(0, shortfall)]  # newest first: the least work is lost
    free += len(preempted)
    admitted = interactive[:free]
    behind_background = bool(running_background)
    now = time.perf_counter()
    for sequence in admitted:
        activity.note_interactive_admitted(now - sequence.submitted_at, behind_background)
    if len(admitted) == len(interactive) and background and activity.background_allowed():
        room = min(free - len(admitted), activity.policy.max_rows - (len(running_background) - len(preempted)), 1)
        admitted += background[:max(0, room)]
    for sequence in admitted:
        waiting.remove(sequence)
    if preempted:
        activity.note_preempted(len(preempted))
    return admitted, preempted
