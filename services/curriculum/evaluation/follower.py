"""Starts a trial for every checkpoint the vault registers for a campaign (DESIGN flow 4, "Trial").

The ledger position is kept in the evaluations store, so a restart neither repeats nor misses a checkpoint;
on the very first start, only checkpoints registered from then on are followed.
"""

from __future__ import annotations

import threading
import time

import structlog

from services.curriculum.evaluation.model import RegisteredCheckpoint
from services.curriculum.evaluation.ports import CheckpointStream, VaultPort, describe_error
from services.curriculum.evaluation.runner import EvaluationRunner
from services.kit.errors import InvalidArgument, NotFound

log = structlog.get_logger(__name__)


class CheckpointFollower:
    def __init__(self, runner: EvaluationRunner, vault: VaultPort, clock=time.time,
                 max_backoff_seconds: float = 30.0) -> None:
        self.runner = runner
        self.vault = vault
        self._clock = clock
        self._max_backoff = max_backoff_seconds
        self._stop = threading.Event()
        self._stream: CheckpointStream | None = None
        self._thread = threading.Thread(target=self._loop, name="checkpoint-follower", daemon=True)
        self.started: list[str] = []  # evaluation names, for observability

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.cancel()
        self._thread.join(10)

    def position(self) -> tuple[int, float]:
        """(last ledger sequence handled, time from which checkpoints are followed)."""
        return self.runner.store.ledger_cursor(since_if_new=self._clock())

    def _loop(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                sequence, since = self.position()
                self._stream = self.vault.follow_checkpoints(sequence)
                if self._stop.is_set():  # closed while connecting: close() may have missed this stream
                    self._stream.cancel()
                    return
                for event in self._stream:
                    backoff = 1.0
                    if self._stop.is_set():
                        return
                    if event.campaign and event.time >= since:
                        self._trial(event)
                    self.runner.store.advance_ledger_cursor(event.sequence)
            except Exception as exc:  # the vault is down or restarting: retry with backoff
                if self._stop.is_set():
                    return
                log.info("waiting for the vault ledger", error=describe_error(exc), retry_in_s=backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    def _trial(self, event: RegisteredCheckpoint) -> None:
        try:
            ev = self.runner.enqueue_checkpoint(event.campaign, event.asset)
        except (InvalidArgument, NotFound) as exc:  # e.g. a campaign with no enabled skill
            log.info("no trial for checkpoint", asset=event.asset, reason=str(exc))
            return
        self.started.append(ev.name)
        log.info("trial queued", evaluation=ev.name, asset=event.asset, campaign=event.campaign)
