"""Retention in the campaign loop: after each checkpoint registration, run that campaign's policy in the
background (a registration never waits for it, and a burst of registrations coalesces into one run per
campaign)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

import structlog

from services.vault.models import GcResult

log = structlog.get_logger("realm.vault.retention")


class RegistrationSource(Protocol):
    """What the loop needs of the domain: hear about new checkpoints, run a campaign's retention."""

    checkpoint_listeners: list[Callable[[str], None]]

    def retain_after_registration(self, campaign: str) -> GcResult: ...


class RetentionAfterRegistration:
    def __init__(self, domain: RegistrationSource) -> None:
        self._domain = domain
        self._due: list[str] = []  # campaigns waiting for a run, in arrival order, each once
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self.runs = 0  # completed runs, for tests and observability
        self._thread = threading.Thread(target=self._loop, name="vault-loop-retention", daemon=True)

    def start(self) -> None:
        self._domain.checkpoint_listeners.append(self.request)
        self._thread.start()

    def request(self, campaign: str) -> None:
        with self._cond:
            if campaign not in self._due:
                self._due.append(campaign)
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is due or running (tests)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._due and not self._busy, timeout)

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self.request in self._domain.checkpoint_listeners:
            self._domain.checkpoint_listeners.remove(self.request)
        self._thread.join(30)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._due or self._stopping)
                if self._stopping:
                    return
                campaign = self._due.pop(0)
                self._busy = True
            try:
                result = self._domain.retain_after_registration(campaign)
                if result.deleted_assets:
                    log.info("retention after registration", campaign=campaign, deleted=result.deleted_assets,
                             reclaimed_bytes=result.reclaimed_bytes)
            except Exception:  # the next registration retries; a bad policy must not stop the loop
                log.exception("retention after registration failed", campaign=campaign)
            finally:
                with self._cond:
                    self._busy = False
                    self.runs += 1
                    self._cond.notify_all()
