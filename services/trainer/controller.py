"""The run loop: pick the next quest, launch the worker process, follow its events, honour control requests.

The protocol with the worker (job.json, stdout events, the control file) is services/trainer/worker/protocol.py;
this module keeps only the process lifecycle. The worker runs in its own process group.

Outcomes:
- completed / skipped / failed (reported by the worker) finish the quest; the loop goes on with the next one.
- paused / stopped leave the quest PAUSED (with its run_dir) until ResumeTraining; it continues first.
- a crash (no terminal event, e.g. kill -9) restarts the worker with resume=true from the newest checkpoint,
  up to `restart_budget` times per quest, then the quest is FAILED and the loop continues.
- a control request the worker does not honour within `control_timeout_s` kills it; the request still applies.
- on trainer start a quest left RUNNING (trainer crash) is resumed from its run_dir; its old worker, if still
  alive, is killed first so two workers never share a run_dir.
The desired run state (RUNNING / PAUSED / STOPPED) is persisted, so a pause survives a trainer restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import structlog

from services.kit.errors import FailedPrecondition, RealmError
from services.trainer.campaigns import CampaignBook
from services.trainer.config import ControllerSettings
from services.trainer.events import EventLog
from services.trainer.hero_loop import HeroLoop
from services.trainer.intake import QuestIntake
from services.trainer.jobs import JobBuilder
from services.trainer.models import (
    TERMINAL_QUEST_STATES,
    Campaign,
    Desired,
    EventKind,
    Quest,
    QuestState,
    RunState,
    RunStatus,
)
from services.trainer.outbox import CheckpointOutbox
from services.trainer.progress import award_xp
from services.trainer.quests import QuestQueue
from services.trainer.worker.protocol import (
    CheckpointSavedEvent,
    ControlWord,
    FailedEvent,
    Job,
    StepEvent,
    WorkerEvent,
    WorkerEventKind,
    clear_control,
    write_control,
)
from services.trainer.worker_process import is_our_worker, kill_group, spawn_worker, worker_events

log = structlog.get_logger("realm.trainer.controller")

DESIRED_KEY = "run.desired"


@dataclass
class _Attempt:
    """One worker process of the current quest, and the control request sent to it."""

    process: asyncio.subprocess.Process
    job: Job
    terminal: WorkerEvent | None = None
    requested: ControlWord | None = None
    reason: str = ""
    watchdog: asyncio.Task | None = None


class Ending(StrEnum):
    COMPLETED = "completed"
    HALTED = "halted"  # paused or stopped: the quest waits, PAUSED, for ResumeTraining
    SKIPPED = "skipped"
    FAILED = "failed"  # the worker says a retry cannot help
    CRASHED = "crashed"  # no terminal event, or a failure the worker calls retryable: restart within the budget


_WORDS = (None, *ControlWord)
# How an attempt ends: (its terminal event, the control word sent to it) -> ending. A terminal event speaks for
# itself; a worker that exited without one ends as the word it had been sent asked, or as a crash.
ENDINGS: dict[tuple[WorkerEventKind | None, ControlWord | None], Ending] = {
    **{(WorkerEventKind.COMPLETED, w): Ending.COMPLETED for w in _WORDS},
    **{(WorkerEventKind.PAUSED, w): Ending.HALTED for w in _WORDS},
    **{(WorkerEventKind.STOPPED, w): Ending.HALTED for w in _WORDS},
    **{(WorkerEventKind.SKIPPED, w): Ending.SKIPPED for w in _WORDS},
    **{(WorkerEventKind.FAILED, w): Ending.FAILED for w in _WORDS},
    (None, None): Ending.CRASHED,
    (None, ControlWord.PAUSE): Ending.HALTED,
    (None, ControlWord.STOP): Ending.HALTED,
    (None, ControlWord.SKIP): Ending.SKIPPED,
}
# Live (non-terminal) events: (run state, event) -> the run state it moves to; not listed: the state stays.
# A `started` while a control request is pending moves nothing: the worker honours it before its first step.
LIVE_TRANSITIONS: dict[tuple[RunState, WorkerEventKind], RunState] = {
    (RunState.STARTING, WorkerEventKind.STARTED): RunState.TRAINING,
    (RunState.STARTING, WorkerEventKind.STEP): RunState.TRAINING,
}
# Control requests: (what is asked, what was already sent to the running worker) -> whether to send it now.
SENDS: dict[tuple[ControlWord, ControlWord | None], bool] = {
    (ControlWord.PAUSE, None): True,
    (ControlWord.STOP, None): True,
    (ControlWord.STOP, ControlWord.PAUSE): True,  # a stop overrides a pending pause
}


class RunController:
    def __init__(
        self,
        *,
        settings: ControllerSettings,
        queue: QuestQueue,
        campaigns: CampaignBook,
        events: EventLog,
        intake: QuestIntake,
        outbox: CheckpointOutbox,
        hero_loop: HeroLoop,
        jobs: JobBuilder,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.campaigns = campaigns
        self.events = events
        self.intake = intake
        self.outbox = outbox
        self.hero_loop = hero_loop
        self.jobs = jobs
        self._wake = asyncio.Event()
        self._closing = False
        self._attempt: _Attempt | None = None
        self._pending_skip: str | None = None  # a skip asked for while the quest's worker was being launched
        self._state = RunState.IDLE
        self._campaign = ""
        self._quest = ""
        self._last_step: dict[str, Any] | None = None
        self._last_checkpoint = ""
        self._message = ""
        self._update_time = time.time()
        self._last_validation_retry = 0.0
        self._live_handlers: dict[WorkerEventKind, Callable[[Any], Awaitable[None]]] = {
            WorkerEventKind.STEP: self._on_step,
            WorkerEventKind.CHECKPOINT_SAVED: self._on_checkpoint_saved,
        }
        self._endings: dict[Ending, Callable[[Quest, _Attempt], bool]] = {
            Ending.COMPLETED: self._end_completed,
            Ending.HALTED: self._end_halted,
            Ending.SKIPPED: self._end_skipped,
            Ending.FAILED: self._end_failed,
            Ending.CRASHED: self._end_crashed,
        }

    # ---- desired state -----------------------------------------------------------------------------------
    @property
    def desired(self) -> Desired:
        return Desired(self.queue.store.get_value(DESIRED_KEY, Desired.RUNNING))

    def _set_desired(self, value: Desired) -> None:
        self.queue.store.set_value(DESIRED_KEY, value.value)

    def _set_state(self, state: RunState, message: str = "") -> None:
        changed = state is not self._state
        self._state = state
        if message:
            self._message = message
        self._update_time = time.time()
        if changed:
            self.events.publish(
                EventKind.RUN_STATE_CHANGED, campaign=self._campaign, quest=self._quest, run_state=state,
                message=message,
            )

    # ---- status and control (called from the servicer on the event loop) ---------------------------------
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

    def _send(self, attempt: _Attempt, word: ControlWord, reason: str) -> None:
        write_control(Path(self.queue.get(self._quest).run_dir), word)
        attempt.requested, attempt.reason = word, reason
        if attempt.watchdog is None or attempt.watchdog.done():
            attempt.watchdog = asyncio.get_running_loop().create_task(self._enforce(attempt))

    async def _enforce(self, attempt: _Attempt) -> None:
        """Kill a worker that has not honoured a control request in time; the request still applies."""
        await asyncio.sleep(self.settings.control_timeout_s)
        if attempt.process.returncode is None:
            log.warning("worker ignored a control request; killing it", pid=attempt.process.pid,
                        request=attempt.requested)
            kill_group(attempt.process.pid)

    def _halt(self, word: ControlWord, desired: Desired, reason: str, *, halting: RunState, halted: RunState,
              pending_message: str) -> RunStatus:
        self._set_desired(desired)
        attempt = self._attempt
        if attempt is None:
            self._set_state(halted, reason or desired.value.lower())
        elif SENDS.get((word, attempt.requested), False):
            self._send(attempt, word, reason or desired.value.lower())
            self._set_state(halting, reason or pending_message)
        return self.status()

    def pause(self, reason: str = "") -> RunStatus:
        return self._halt(ControlWord.PAUSE, Desired.PAUSED, reason, halting=RunState.PAUSING,
                          halted=RunState.PAUSED, pending_message="pausing: checkpoint, then release the device")

    def stop(self, reason: str = "") -> RunStatus:
        return self._halt(ControlWord.STOP, Desired.STOPPED, reason, halting=RunState.STOPPING,
                          halted=RunState.STOPPED, pending_message="stopping: checkpoint, then idle until resumed")

    def resume(self) -> RunStatus:
        self._set_desired(Desired.RUNNING)
        if self._attempt is None:
            self._set_state(RunState.IDLE, "resumed")
        self._wake.set()
        return self.status()

    def skip(self, name: str, reason: str = "") -> RunStatus:
        quest = self.queue.get(name)
        if quest.name == self._quest and (self._attempt is not None or quest.state is QuestState.RUNNING):
            if self._attempt is not None:
                self._send(self._attempt, ControlWord.SKIP, reason or "skipped")
            else:  # its worker is being (re)launched: the skip applies as soon as it runs
                self._pending_skip = reason or "skipped"
            return self.status()
        if quest.state is QuestState.PAUSED:
            self._finish(quest, QuestState.SKIPPED, reason or "skipped while paused")
            return self.status()
        raise FailedPrecondition(
            f"{quest.name} is {quest.state.value}, not the running quest"
            + (f" ({self._quest} is)" if self._quest else ""),
            field="name",
        )

    def wake(self) -> None:
        self._wake.set()

    # ---- the loop ----------------------------------------------------------------------------------------
    async def run(self) -> None:
        await asyncio.to_thread(self.recover)
        while not self._closing:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any one bad quest
                log.exception("controller tick failed")
                self._message = f"controller error: {type(exc).__name__}: {exc}"
                await self._sleep(self.settings.idle_poll_s)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def recover(self) -> None:
        """After a trainer restart: quests left RUNNING go PAUSED (resumed first); stray workers are killed."""
        for quest in self.queue.in_state(QuestState.RUNNING):
            if quest.worker_pid and is_our_worker(quest.worker_pid, quest.run_dir):
                log.warning("killing a worker left over from a previous trainer", pid=quest.worker_pid)
                kill_group(quest.worker_pid)
                deadline = time.monotonic() + 10
                while is_our_worker(quest.worker_pid, quest.run_dir) and time.monotonic() < deadline:
                    time.sleep(0.05)
            self.queue.finish(quest.name, QuestState.PAUSED, "trainer restarted; resuming from the last checkpoint")
        self._state = {Desired.PAUSED: RunState.PAUSED, Desired.STOPPED: RunState.STOPPED}.get(
            self.desired, RunState.IDLE)

    async def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last_validation_retry >= self.settings.validation_retry_s:
            self._last_validation_retry = now
            await asyncio.to_thread(self.intake.revalidate_pending)
        desired = self.desired
        campaign = self.campaigns.active()
        if desired is not Desired.RUNNING:
            self._set_state(RunState.PAUSED if desired is Desired.PAUSED else RunState.STOPPED)
            await self._sleep(self.settings.idle_poll_s)
            return
        if campaign is None:
            self._campaign, self._quest = "", ""
            self._set_state(RunState.IDLE, "no active campaign")
            await self._sleep(self.settings.idle_poll_s)
            return
        quest = self.queue.next_to_run(campaign.name)
        if quest is None:
            await self.hero_loop.maybe_enqueue(campaign)
            quest = self.queue.next_to_run(campaign.name)
        if quest is None:
            self._campaign, self._quest = campaign.name, ""
            self._set_state(RunState.IDLE, "queue empty")
            await self._sleep(self.settings.idle_poll_s)
            return
        await self._run_quest(campaign, quest)

    # ---- one quest ---------------------------------------------------------------------------------------
    def _prepare(self, campaign: Campaign, quest: Quest) -> Job:
        """The job to run: a PAUSED quest's own (flipped to resume), else a fresh one; marks the quest RUNNING."""
        job = self.jobs.existing(quest) if quest.state is QuestState.PAUSED else None
        if job is not None:
            job = self.jobs.resumable(job)
            self.queue.mark_resumed(quest.name)
            return job
        job = self.jobs.fresh(campaign, quest)
        self.queue.mark_started(
            quest.name, run_dir=str(job.run_dir), global_step_offset=job.global_step_offset,
            trained_tokens_offset=job.trained_tokens_offset,
        )
        return job

    async def _run_quest(self, campaign: Campaign, quest: Quest) -> None:
        self._campaign, self._quest = campaign.name, quest.name
        self._last_step, self._pending_skip = None, None
        resuming = quest.state is QuestState.PAUSED
        try:
            job = await asyncio.to_thread(self._prepare, campaign, quest)
        except RealmError as exc:
            if self.queue.get(quest.name).state in TERMINAL_QUEST_STATES:
                self._quest = ""  # finished meanwhile (e.g. pruned by a level-up): nothing to start
                return
            self._finish(quest, QuestState.FAILED, f"cannot start: {exc.describe()}")
            return
        self.events.publish(
            EventKind.QUEST_STARTED, campaign=campaign.name, quest=quest.name,
            message="resumed" if resuming else "started",
            attributes={"resumed": str(resuming).lower(), "labels": json.dumps(quest.labels)},
        )
        relaunch = True
        while relaunch:
            self._set_state(RunState.STARTING, f"starting {quest.name}")
            try:
                attempt = await self._launch(job)
            except OSError as exc:  # the worker command itself cannot run: no restart will help
                self._attempt = None
                self._finish(self.queue.get(quest.name), QuestState.FAILED, f"cannot start the worker: {exc}")
                return
            self._attempt = None
            if attempt.watchdog is not None:
                attempt.watchdog.cancel()
            terminal = attempt.terminal.KIND if attempt.terminal else None
            ending = ENDINGS[(terminal, attempt.requested)]
            relaunch = self._endings[ending](self.queue.get(quest.name), attempt)
            if relaunch:
                job = await asyncio.to_thread(self.jobs.resumable, job)

    async def _launch(self, job: Job) -> _Attempt:
        clear_control(job.run_dir)
        process = await spawn_worker(self.settings, job)
        attempt = _Attempt(process, job)
        self._attempt = attempt
        self.queue.set_worker(self._quest, process.pid)
        # A control request made while no worker ran (e.g. pause during a crash restart) applies now.
        if self.desired is Desired.PAUSED:
            self._send(attempt, ControlWord.PAUSE, "paused")
        elif self.desired is Desired.STOPPED:
            self._send(attempt, ControlWord.STOP, "stopped")
        if self._pending_skip is not None:
            self._send(attempt, ControlWord.SKIP, self._pending_skip)
            self._pending_skip = None
        async for event in worker_events(process):
            await self._on_event(attempt, event)
        await process.wait()
        return attempt

    async def _on_event(self, attempt: _Attempt, event: WorkerEvent) -> None:
        if event.terminal:
            attempt.terminal = event
            return
        next_state = LIVE_TRANSITIONS.get((self._state, event.KIND))
        if next_state is not None and not (event.KIND is WorkerEventKind.STARTED and attempt.requested):
            self._set_state(next_state, f"training {self._quest}")
        handler = self._live_handlers.get(event.KIND)
        if handler is not None:
            await handler(event)

    async def _on_step(self, event: StepEvent) -> None:
        step = event.metrics()
        self._last_step = step
        await asyncio.to_thread(self._record_step, event)
        self.events.publish(EventKind.STEP, campaign=self._campaign, quest=self._quest, step=step)

    def _record_step(self, event: StepEvent) -> None:
        self.queue.record_steps(self._quest, steps_done=event.quest_step, steps_total=event.quest_steps_total)
        award_xp(self.campaigns, self.events, campaign=self._campaign, quest=self._quest,
                 global_step=event.global_step, trained_tokens=event.trained_tokens)

    async def _on_checkpoint_saved(self, event: CheckpointSavedEvent) -> None:
        self._last_checkpoint = event.path
        await asyncio.to_thread(
            lambda: self.outbox.record_saved(self.campaigns.get(self._campaign), self.queue.get(self._quest), event))

    # ---- how an attempt ends: each returns True to launch the worker again ----------------------------------
    def _end_completed(self, quest: Quest, attempt: _Attempt) -> bool:
        loss = getattr(attempt.terminal, "loss", None)
        self._finish(quest, QuestState.COMPLETED, "completed", loss=loss)
        return False

    def _end_halted(self, quest: Quest, attempt: _Attempt) -> bool:
        if attempt.terminal is not None:
            word = attempt.terminal.KIND.value
        else:
            word = "paused" if attempt.requested is ControlWord.PAUSE else "stopped"
        self.queue.finish(quest.name, QuestState.PAUSED, attempt.reason or word)
        stopped = word == "stopped" or self.desired is Desired.STOPPED
        self._set_state(RunState.STOPPED if stopped else RunState.PAUSED, attempt.reason or word)
        return False

    def _end_skipped(self, quest: Quest, attempt: _Attempt) -> bool:
        self._finish(quest, QuestState.SKIPPED, attempt.reason or "skipped")
        return False

    def _end_failed(self, quest: Quest, attempt: _Attempt) -> bool:
        failed = attempt.terminal
        assert isinstance(failed, FailedEvent)
        if failed.retryable:
            return self._end_crashed(quest, attempt)
        self._finish(quest, QuestState.FAILED, failed.error or "the worker reported a failure")
        return False

    def _end_crashed(self, quest: Quest, attempt: _Attempt) -> bool:
        if self._closing:
            self.queue.finish(quest.name, QuestState.PAUSED, "trainer shut down; resumes on the next start")
            return False
        code = attempt.process.returncode
        error = f": {attempt.terminal.error}" if isinstance(attempt.terminal, FailedEvent) else ""
        restarts = self.queue.count_restart(quest.name)
        budget = self.settings.restart_budget
        if restarts > budget:
            self._finish(quest, QuestState.FAILED,
                         f"worker failed (exit {code}{error}) {restarts} times; restart budget is {budget}")
            return False
        checkpoint = attempt.job.latest_checkpoint()
        self.events.publish(
            EventKind.WORKER_RESTARTED, campaign=quest.campaign, quest=quest.name, checkpoint=str(checkpoint or ""),
            message=f"worker exited with {code}{error} without finishing; restart {restarts} of {budget}"
                    + (f", resuming from {checkpoint.name}" if checkpoint else ", from the start"),
            attributes={"exit_code": str(code), "restarts": str(restarts)},
        )
        if self.desired is Desired.RUNNING:
            return True
        self.queue.finish(quest.name, QuestState.PAUSED, "worker crashed while a pause was pending")
        return False

    def _finish(self, quest: Quest, state: QuestState, reason: str, *, loss: Any = None) -> None:
        self.queue.finish(quest.name, state, reason)
        kind = {
            QuestState.COMPLETED: EventKind.QUEST_COMPLETED,
            QuestState.FAILED: EventKind.QUEST_FAILED,
            QuestState.SKIPPED: EventKind.QUEST_SKIPPED,
        }[state]
        attributes = {"loss": str(loss)} if loss is not None else {}
        self.events.publish(kind, campaign=quest.campaign, quest=quest.name, message=reason, attributes=attributes)
        if state is QuestState.FAILED:
            self._message = f"{quest.name} failed: {reason}"

    # ---- shutdown ----------------------------------------------------------------------------------------
    async def close(self) -> None:
        """Ask a running worker to checkpoint (pause), wait a bounded time, then kill it. The quest stays PAUSED
        and resumes on the next start; the desired state is left as it was."""
        self._closing = True
        self._wake.set()
        attempt = self._attempt
        if attempt is None or attempt.process.returncode is not None:
            return
        with contextlib.suppress(OSError, RealmError):
            write_control(Path(self.queue.get(self._quest).run_dir), ControlWord.PAUSE)
        try:
            await asyncio.wait_for(attempt.process.wait(), self.settings.shutdown_grace_s)
        except TimeoutError:
            kill_group(attempt.process.pid)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(attempt.process.wait(), 5)

