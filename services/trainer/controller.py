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
- a worker that says `ready` after a completed or skipped quest stays up (worker_reuse) and gets the next quest's
  job on stdin: no process start, imports and model load per quest. It is released when the run is paused or
  stopped, when no quest comes for `worker_idle_release_s`, and on shutdown. A crash is handled as above.
- data ahead of need: once a quest's worker has started, the hero loop is asked for the next quest in the
  background (its queue threshold still decides), so the next quest is generated and validated while this one
  trains instead of after it.
- `loop_clock` (loop_clock.py) splits the wall time into training / worker start-up / checkpoint save / waiting
  for data / idle, per campaign.
The desired run state (RUNNING / PAUSED / STOPPED) is persisted, so a pause survives a trainer restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog

from services.kit.errors import RealmError
from services.trainer.campaigns import CampaignBook
from services.trainer.config import ControllerSettings
from services.trainer.events import EventLog
from services.trainer.hero_loop import HeroLoop
from services.trainer.intake import QuestIntake
from services.trainer.jobs import JobBuilder
from services.trainer.loop_clock import LoopClock, Phase
from services.trainer.models import (
    TERMINAL_QUEST_STATES,
    Campaign,
    Desired,
    EventKind,
    Quest,
    QuestState,
    RunState,
)
from services.trainer.outbox import CheckpointOutbox
from services.trainer.prefetch import QuestPrefetch
from services.trainer.progress import award_xp
from services.trainer.quests import QuestQueue
from services.trainer.run_control import RunControl
from services.trainer.run_tables import ENDINGS, LIVE_TRANSITIONS, SENDS, Attempt, Ending  # noqa: F401 (SENDS: all tables importable here)
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
from services.trainer.worker_process import WorkerHandle, is_our_worker, kill_group, spawn_worker

log = structlog.get_logger("realm.trainer.controller")



class RunController(RunControl):
    """The run loop; the control calls and the run status are its RunControl mixin (run_control.py)."""

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
        self._attempt: Attempt | None = None
        self._pending_skip: str | None = None  # a skip asked for while the quest's worker was being launched
        self._state = RunState.IDLE
        self._campaign = ""
        self._quest = ""
        self._last_step: dict[str, Any] | None = None
        self._last_checkpoint = ""
        self._message = ""
        self._update_time = time.time()
        self._last_validation_retry = 0.0
        self._idle_worker: WorkerHandle | None = None  # a long-lived worker waiting for its next job
        self._idle_since = 0.0
        self.prefetch = QuestPrefetch(hero_loop, campaigns)
        self.loop_clock = LoopClock(queue.store)
        outbox.upload_timer = self.loop_clock.add_upload
        self._live_handlers: dict[WorkerEventKind, Callable[[Any], Awaitable[None]]] = {
            WorkerEventKind.STEP: self._on_step,
            WorkerEventKind.CHECKPOINT_SAVED: self._on_checkpoint_saved,
        }
        self._endings: dict[Ending, Callable[[Quest, Attempt], bool]] = {
            Ending.COMPLETED: self._end_completed,
            Ending.HALTED: self._end_halted,
            Ending.SKIPPED: self._end_skipped,
            Ending.FAILED: self._end_failed,
            Ending.CRASHED: self._end_crashed,
        }

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
            self.loop_clock.enter(campaign.name if campaign else "", Phase.IDLE)
            await self._release_idle_worker()  # a pause or stop releases the device
            self._set_state(RunState.PAUSED if desired is Desired.PAUSED else RunState.STOPPED)
            await self._sleep(self.settings.idle_poll_s)
            return
        if campaign is None:
            self.loop_clock.enter("", Phase.IDLE)
            await self._release_idle_worker()
            self._campaign, self._quest = "", ""
            self._set_state(RunState.IDLE, "no active campaign")
            await self._sleep(self.settings.idle_poll_s)
            return
        quest = self.queue.next_to_run(campaign.name)
        if quest is None:
            self.loop_clock.enter(campaign.name, Phase.WAITING_FOR_DATA)
            await self.prefetch.enqueue_now(campaign)  # a prefetch in flight finishes first; its quest is next
            quest = self.queue.next_to_run(campaign.name)
        if quest is None:
            self.loop_clock.enter(campaign.name, Phase.WAITING_FOR_DATA)
            if self._idle_worker is not None and \
                    time.monotonic() - self._idle_since >= self.settings.worker_idle_release_s:
                await self._release_idle_worker()
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
        self.loop_clock.enter(campaign.name, Phase.WORKER_STARTUP)
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

    async def _launch(self, job: Job) -> Attempt:
        clear_control(job.run_dir)
        worker, self._idle_worker = self._idle_worker, None
        reused = worker is not None and await worker.hand(job)
        if not reused:
            if worker is not None:
                await worker.release(grace_s=1.0)
            worker = WorkerHandle(await spawn_worker(self.settings, job))
        self.loop_clock.count_launch(self._campaign, reused=reused)
        process = worker.process
        attempt = Attempt(process, job)
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
        async for event in worker.events():
            await self._on_event(attempt, event)
        if worker.ready and attempt.terminal is not None and not self._closing:
            self._idle_worker, self._idle_since = worker, time.monotonic()  # it waits for the next job
        else:
            await process.wait()
        return attempt

    async def _release_idle_worker(self) -> None:
        worker, self._idle_worker = self._idle_worker, None
        if worker is not None:
            await worker.release()

    async def _on_event(self, attempt: Attempt, event: WorkerEvent) -> None:
        if event.terminal:
            attempt.terminal = event
            self.loop_clock.enter(self._campaign, Phase.WORKER_STARTUP)  # ending it and starting the next
            return
        if event.KIND in (WorkerEventKind.STARTED, WorkerEventKind.STEP):
            self.loop_clock.enter(self._campaign, Phase.TRAINING)
        if event.KIND is WorkerEventKind.STARTED and not self._closing:
            self.prefetch.start(self._campaign)
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
        self.loop_clock.move(self._campaign, event.save_seconds, Phase.TRAINING, Phase.CHECKPOINT_SAVE)
        await asyncio.to_thread(
            lambda: self.outbox.record_saved(self.campaigns.get(self._campaign), self.queue.get(self._quest), event))

    # ---- how an attempt ends: each returns True to launch the worker again ----------------------------------
    def _end_completed(self, quest: Quest, attempt: Attempt) -> bool:
        loss = getattr(attempt.terminal, "loss", None)
        early = attempt.requested is ControlWord.FINISH and attempt.reason
        self._finish(quest, QuestState.COMPLETED, f"completed early: {attempt.reason}" if early else "completed",
                     loss=loss)
        return False

    def _end_halted(self, quest: Quest, attempt: Attempt) -> bool:
        if attempt.terminal is not None:
            word = attempt.terminal.KIND.value
        else:
            word = "paused" if attempt.requested is ControlWord.PAUSE else "stopped"
        self.queue.finish(quest.name, QuestState.PAUSED, attempt.reason or word)
        stopped = word == "stopped" or self.desired is Desired.STOPPED
        self._set_state(RunState.STOPPED if stopped else RunState.PAUSED, attempt.reason or word)
        return False

    def _end_skipped(self, quest: Quest, attempt: Attempt) -> bool:
        self._finish(quest, QuestState.SKIPPED, attempt.reason or "skipped")
        return False

    def _end_failed(self, quest: Quest, attempt: Attempt) -> bool:
        failed = attempt.terminal
        assert isinstance(failed, FailedEvent)
        if failed.retryable:
            return self._end_crashed(quest, attempt)
        self._finish(quest, QuestState.FAILED, failed.error or "the worker reported a failure")
        return False

    def _end_crashed(self, quest: Quest, attempt: Attempt) -> bool:
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
        self.prefetch.cancel()
        await self._release_idle_worker()
        self.loop_clock.flush()
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

