"""Effects of trials on other services, delivered until they land (the curriculum's outbox).

- LEVEL_UP: every level change the progression store records (from a trial or a RecordEval call) is appended
  to the vault ledger, idempotent per (campaign, skill, to_level) under the vault's idempotency key; a cursor
  over the level changes survives restarts, so none is lost while the vault is down.
- superseded: a checkpoint whose trial was skipped for a newer one gets the vault label trial=superseded
  (retention does not protect it as "not yet evaluated").
- sparring: correction rows from a trial's (or a sparring task's) wrong answers go to the trainer as a
  high-priority quest.

A peer that is down is retried with backoff; a permanent refusal is recorded on the outbox row and skipped.
Plain Python: the ports (remote.py) do the RPCs.
"""

from __future__ import annotations

import threading
from typing import Any

import structlog

from services.curriculum.evaluation import (
    EvaluationRunner,
    LevelUp,
    TrainerPort,
    VaultPort,
    describe_error,
    is_retryable,
)
from services.curriculum.evaluation.store import EvaluationStore
from services.curriculum.progression import ProgressionStore

log = structlog.get_logger(__name__)


class Deliveries:
    def __init__(self, runner: EvaluationRunner, progression: ProgressionStore, vault: VaultPort,
                 trainer: TrainerPort | None = None, poll_s: float = 1.0, max_backoff_s: float = 30.0) -> None:
        self.runner = runner
        self.store: EvaluationStore = runner.store
        self.progression = progression
        self.vault = vault
        self.trainer = trainer
        self._poll_s = poll_s
        self._max_backoff = max_backoff_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._passes = threading.Condition()
        self._started_passes = 0
        self._clean_pass = 0  # number of the last pass that found nothing it could not deliver
        self._thread = threading.Thread(target=self._loop, name="curriculum-deliveries", daemon=True)
        self.store.on_effect_queued(self._wake.set)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(30)

    def wake(self) -> None:
        self._wake.set()

    def wait_idle(self, timeout: float) -> bool:
        """Block until a pass that started after this call delivered everything (tests)."""
        with self._passes:
            target = self._started_passes + 1
        self._wake.set()
        with self._passes:
            return self._passes.wait_for(lambda: self._clean_pass >= target, timeout)

    # ------------------------------------------------------------------ loop
    def _loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            self._wake.clear()
            with self._passes:
                self._started_passes += 1
                number = self._started_passes
            try:
                self.deliver_pending()
                backoff = 0.5
                with self._passes:
                    self._clean_pass = number
                    self._passes.notify_all()
                self._wake.wait(self._poll_s)
            except Exception as exc:  # a peer is down: try again later, nothing is dropped
                log.info("delivery postponed", error=describe_error(exc), retry_in_s=backoff)
                self._wake.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    def deliver_pending(self) -> None:
        """One pass: announce new level changes, then send queued effects. Raises on a retryable failure."""
        self._announce_level_ups()
        for effect in self.store.undelivered_effects():
            if self._stop.is_set():
                return
            try:
                result = self._deliver(effect.kind, effect.payload)
            except Exception as exc:
                if is_retryable(exc):
                    self.store.effect_attempted(effect.id)
                    raise
                result = f"refused: {describe_error(exc)}"
                log.warning("delivery refused", kind=effect.kind, error=result)
            self.store.effect_done(effect.id, result)

    def _deliver(self, kind: str, payload: dict[str, Any]) -> str:
        if kind == "superseded":
            self.vault.mark_superseded(payload["asset"], payload["superseded_by"])
            return "labelled"
        if kind == "sparring":
            if self.trainer is None:
                return "skipped: no trainer configured"
            # From a trial (its evaluation records the quest) or a sparring task (idle_tasks.py: origin = task id).
            origin = payload.get("origin") or payload["evaluation"].split("/")[-1]
            quest = self.trainer.submit_correction(
                payload["campaign"], payload["skill"], int(payload["level"]), payload["jsonl"].encode("utf-8"),
                f"sparring {payload['skill']} L{payload['level']} {origin}")
            if payload["evaluation"]:
                self.runner.set_sparring_quest(payload["evaluation"], quest)
            log.info("sparring quest submitted", quest=quest, evaluation=payload["evaluation"],
                     task=payload.get("task", ""), rows=payload["rows"])
            return quest
        return f"skipped: unknown kind {kind!r}"

    def _announce_level_ups(self) -> None:
        for change in self.progression.level_changes_after(self.store.level_up_cursor()):
            try:
                self.vault.append_level_up(LevelUp(change.campaign, change.skill, change.from_level,
                                                   change.to_level, change.checkpoint, change.mean_accuracy))
                log.info("skill level up announced", campaign=change.campaign, skill=change.skill,
                         to_level=change.to_level)
            except Exception as exc:
                if is_retryable(exc):
                    raise
                # Refused for good (e.g. a malformed campaign name): later level-ups must not wait behind it.
                log.warning("skill level up not announced", campaign=change.campaign, skill=change.skill,
                            to_level=change.to_level, error=describe_error(exc))
            self.store.advance_level_up_cursor(change.id)
