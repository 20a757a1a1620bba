"""Run control: pause / stop / resume / skip and the run status, the part of the RunController callers drive.

A mixin of RunController (controller.py): same object, same state. The controller's state (run state, the current
attempt, the control word sent to it) belongs to the event loop: the loop's coroutines read and change it between
their awaits. Each control call is therefore split in three:
  1. reads/writes of SQLite it needs before deciding (the persisted desired state, the quest row);
  2. the decision and the in-memory transition, on the loop, with no I/O — it returns the I/O left to do
     (`Effect`s: record the RUN_STATE_CHANGED event, write the control file, finish a paused quest);
  3. those effects, then the status read.
The `*_async` methods (the servicer's) run 1 and 3 in a thread (asyncio.to_thread) and 2 on the loop; concurrent
calls are serialised by a lock, so two requests never interleave their steps. The plain methods run the same
three steps inline (the controller's own loop and the unit tests call them on the loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from services.kit.errors import FailedPrecondition, RealmError
from services.trainer.models import Desired, EventKind, Quest, QuestState, RunState, RunStatus
from services.trainer.run_tables import SENDS, Attempt
from services.trainer.worker.protocol import ControlWord, write_control
from services.trainer.worker_process import kill_group

log = structlog.get_logger("realm.trainer.controller")

DESIRED_KEY = "run.desired"
Effect = Callable[[], Any]  # blocking I/O decided on the loop, done after it (in a thread for *_async)


class RunControl:
    # Set by RunController.__init__ (declared here for readers of this mixin).
    queue: Any
    events: Any
    settings: Any
    _attempt: Attempt | None
    _pending_skip: str | None
    _state: RunState
    _campaign: str
    _quest: str
    _last_step: dict[str, Any] | None
    _last_checkpoint: str
    _message: str
    _update_time: float
    _wake: asyncio.Event
    _finish: Callable[..., None]

    @functools.cached_property
    def _control_lock(self) -> asyncio.Lock:
        return asyncio.Lock()

    # ---- desired state -----------------------------------------------------------------------------------
    @property
    def desired(self) -> Desired:
        return Desired(self.queue.store.get_value(DESIRED_KEY, Desired.RUNNING))

    def _set_desired(self, value: Desired) -> None:
        self.queue.store.set_value(DESIRED_KEY, value.value)

    def _transition(self, state: RunState, message: str = "") -> list[Effect]:
        """The in-memory state change; the event it needs recorded, if the state changed."""
        changed = state is not self._state
        self._state = state
        if message:
            self._message = message
        self._update_time = time.time()
        if not changed:
            return []
        return [functools.partial(self.events.publish, EventKind.RUN_STATE_CHANGED, campaign=self._campaign,
                                  quest=self._quest, run_state=state, message=message)]

    def _set_state(self, state: RunState, message: str = "") -> None:
        _apply(self._transition(state, message))

    # ---- status -----------------------------------------------------------------------------------------
    @property
    def current(self) -> tuple[str, str]:  # (campaign, quest); quest is "" between quests
        return self._campaign, self._quest

    def status(self) -> RunStatus:
        restarts = 0
        quest, attempt = self._quest, self._attempt
        if quest:
            with contextlib.suppress(RealmError):
                restarts = self.queue.get(quest).worker_restarts
        return RunStatus(
            state=self._state, campaign=self._campaign, quest=quest, last_step=self._last_step,
            last_checkpoint=self._last_checkpoint, queued_quests=self.queue.count_in_state(QuestState.QUEUED),
            worker_pid=attempt.process.pid if attempt else 0, worker_restarts=restarts,
            message=self._message, update_time=self._update_time,
        )

    # ---- control words to the worker --------------------------------------------------------------------
    def _request(self, attempt: Attempt, word: ControlWord, reason: str) -> list[Effect]:
        """Mark `word` as sent to the attempt (and arm the watchdog) now; the control file is the effect."""
        attempt.requested, attempt.reason = word, reason
        if attempt.watchdog is None or attempt.watchdog.done():
            attempt.watchdog = asyncio.get_running_loop().create_task(self._enforce(attempt))
        return [functools.partial(write_control, attempt.job.run_dir, word)]

    def _send(self, attempt: Attempt, word: ControlWord, reason: str) -> None:
        _apply(self._request(attempt, word, reason))

    async def _enforce(self, attempt: Attempt) -> None:
        """Kill a worker that has not honoured a control request in time; the request still applies."""
        await asyncio.sleep(self.settings.control_timeout_s)
        if attempt.process.returncode is None:
            log.warning("worker ignored a control request; killing it", pid=attempt.process.pid,
                        request=attempt.requested)
            kill_group(attempt.process.pid)

    # ---- the decisions (on the loop, no I/O) ------------------------------------------------------------
    def _halt(self, word: ControlWord, desired: Desired, reason: str) -> list[Effect]:
        halting, halted, pending = HALTS[word]
        attempt = self._attempt
        if attempt is None:
            return self._transition(halted, reason or desired.value.lower())
        if SENDS.get((word, attempt.requested), False):
            # The state's event first: the worker cannot answer the control word before it is recorded.
            return self._transition(halting, reason or pending) + self._request(attempt, word,
                                                                                reason or desired.value.lower())
        return []

    def _resume(self) -> list[Effect]:
        return self._transition(RunState.IDLE, "resumed") if self._attempt is None else []

    def _skip(self, quest: Quest, reason: str) -> list[Effect]:
        if quest.name == self._quest and (self._attempt is not None or quest.state is QuestState.RUNNING):
            if self._attempt is not None:
                return self._request(self._attempt, ControlWord.SKIP, reason or "skipped")
            self._pending_skip = reason or "skipped"  # its worker is being (re)launched: applies once it runs
            return []
        if quest.state is QuestState.PAUSED:
            return [functools.partial(self._finish, quest, QuestState.SKIPPED, reason or "skipped while paused")]
        raise FailedPrecondition(
            f"{quest.name} is {quest.state.value}, not the running quest"
            + (f" ({self._quest} is)" if self._quest else ""),
            field="name",
        )

    def _applied(self, effects: Sequence[Effect]) -> RunStatus:
        _apply(effects)
        return self.status()

    # ---- on the loop, inline (the controller itself, unit tests) ----------------------------------------
    def pause(self, reason: str = "") -> RunStatus:
        self._set_desired(Desired.PAUSED)
        return self._applied(self._halt(ControlWord.PAUSE, Desired.PAUSED, reason))

    def stop(self, reason: str = "") -> RunStatus:
        self._set_desired(Desired.STOPPED)
        return self._applied(self._halt(ControlWord.STOP, Desired.STOPPED, reason))

    def resume(self) -> RunStatus:
        self._set_desired(Desired.RUNNING)
        effects = self._resume()
        self._wake.set()
        return self._applied(effects)

    def skip(self, name: str, reason: str = "") -> RunStatus:
        return self._applied(self._skip(self.queue.get(name), reason))

    def wake(self) -> None:
        self._wake.set()

    # ---- from the servicer: SQLite and files in a thread, the transition on the loop ----------------------
    async def _halt_async(self, word: ControlWord, desired: Desired, reason: str) -> RunStatus:
        async with self._control_lock:
            await asyncio.to_thread(self._set_desired, desired)
            return await asyncio.to_thread(self._applied, self._halt(word, desired, reason))

    async def pause_async(self, reason: str = "") -> RunStatus:
        return await self._halt_async(ControlWord.PAUSE, Desired.PAUSED, reason)

    async def stop_async(self, reason: str = "") -> RunStatus:
        return await self._halt_async(ControlWord.STOP, Desired.STOPPED, reason)

    async def resume_async(self) -> RunStatus:
        async with self._control_lock:
            await asyncio.to_thread(self._set_desired, Desired.RUNNING)
            status = await asyncio.to_thread(self._applied, self._resume())
            self._wake.set()  # after "resumed" is recorded, so the loop's next state event comes after it
            return status

    async def skip_async(self, name: str, reason: str = "") -> RunStatus:
        async with self._control_lock:
            quest = await asyncio.to_thread(self.queue.get, name)
            return await asyncio.to_thread(self._applied, self._skip(quest, reason))

    async def finish_early_async(self, name: str, reason: str) -> bool:
        """Ask the running quest `name` to end now as completed, after a final checkpoint (its remaining rows are
        not trained). False, changing nothing, when `name` is not the quest a worker is running or a control
        request was already sent to that worker (a pause, stop or skip decides then)."""
        async with self._control_lock:
            attempt = self._attempt
            if name != self._quest or attempt is None or attempt.requested is not None:
                return False
            await asyncio.to_thread(_apply, self._request(attempt, ControlWord.FINISH, reason))
            return True


# word -> (state while the worker honours it, state when no worker runs, message while pending)
HALTS = {
    ControlWord.PAUSE: (RunState.PAUSING, RunState.PAUSED, "pausing: checkpoint, then release the device"),
    ControlWord.STOP: (RunState.STOPPING, RunState.STOPPED, "stopping: checkpoint, then idle until resumed"),
}


def _apply(effects: Sequence[Effect]) -> None:
    for effect in effects:
        effect()
