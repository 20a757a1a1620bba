"""The run loop: pick the next quest, launch the worker process, follow its events, honour control requests.

Worker interface (services/trainer/worker/README.md): the controller writes run_dir/job.json and starts
`python -m services.trainer.worker --job run_dir/job.json` in its own process group; the worker prints one
JSON event per stdout line and reads run_dir/control ("pause" | "stop" | "skip") every step.

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
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from services.kit.errors import FailedPrecondition, RealmError
from services.trainer.campaigns import CampaignBook
from services.trainer.events import EventLog
from services.trainer.hero_loop import HeroLoop
from services.trainer.heroes import HeroRegistry, HeroSpec
from services.trainer.intake import QuestIntake
from services.trainer.models import (
    TERMINAL_QUEST_STATES,
    Campaign,
    EventKind,
    Milestone,
    Quest,
    QuestState,
    RunState,
)
from services.trainer.outbox import CheckpointOutbox
from services.trainer.ports import DatasetSource
from services.trainer.progress import level_for_xp
from services.trainer.quests import QuestQueue

log = structlog.get_logger("realm.trainer.controller")

REPO_ROOT = Path(__file__).resolve().parents[2]
TERMINAL_EVENTS = frozenset({"completed", "paused", "stopped", "skipped", "failed"})
STEP_FIELDS = (
    "global_step", "quest_step", "quest_steps_total", "loss", "learning_rate", "grad_norm",
    "tokens_per_second", "trained_tokens", "eta_seconds", "memory_bytes", "epoch",
)
DESIRED_KEY = "run.desired"
RUNNING, PAUSED, STOPPED = "RUNNING", "PAUSED", "STOPPED"


@dataclass(frozen=True)
class ControllerSettings:
    worker_command: tuple[str, ...] = (sys.executable, "-m", "services.trainer.worker")
    worker_env: dict[str, str] = field(default_factory=dict)
    restart_budget: int = 3
    control_timeout_s: float = 300.0
    shutdown_grace_s: float = 20.0
    idle_poll_s: float = 2.0
    validation_retry_s: float = 15.0

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> ControllerSettings:
        command = section.get("worker_command")
        return cls(
            worker_command=tuple(command) if command else cls.worker_command,
            worker_env={str(k): str(v) for k, v in (section.get("worker_env") or {}).items()},
            restart_budget=int(section.get("restart_budget", 3)),
            control_timeout_s=float(section.get("control_timeout_s", 300.0)),
            shutdown_grace_s=float(section.get("shutdown_grace_s", 20.0)),
            idle_poll_s=float(section.get("idle_poll_s", 2.0)),
            validation_retry_s=float(section.get("validation_retry_s", 15.0)),
        )


@dataclass(frozen=True)
class RunStatus:
    state: RunState
    campaign: str
    quest: str
    last_step: dict[str, Any] | None
    last_checkpoint: str
    queued_quests: int
    worker_pid: int
    worker_restarts: int
    message: str
    update_time: float


@dataclass
class _Attempt:
    """One worker process of the current quest."""

    process: asyncio.subprocess.Process
    terminal: dict[str, Any] | None = None


def _is_our_worker(pid: int, run_dir: str) -> bool:
    """True when pid is a live worker of this run_dir (its command line names run_dir/job.json)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return bool(run_dir) and f"{run_dir}/job.json".encode() in cmdline


def latest_checkpoint(run_dir: Path) -> Path | None:
    checkpoints = run_dir / "checkpoints"
    if not checkpoints.is_dir():
        return None
    complete = sorted(p for p in checkpoints.iterdir() if p.is_dir() and p.name.startswith("step-"))
    return complete[-1] if complete else None


def model_dir_of_checkpoint(path: Path) -> Path:
    """A checkpoint is a HF directory at its top level (trainer state beside it); older layouts nest it."""
    return path if (path / "config.json").exists() or not (path / "model").is_dir() else path / "model"


class RunController:
    def __init__(
        self,
        *,
        root: Path,
        settings: ControllerSettings,
        queue: QuestQueue,
        campaigns: CampaignBook,
        heroes: HeroRegistry,
        events: EventLog,
        intake: QuestIntake,
        outbox: CheckpointOutbox,
        hero_loop: HeroLoop,
        assets: DatasetSource | None,
        training_config_builder: Any,
        config_hasher: Any = None,
    ) -> None:
        self.root = root
        self.settings = settings
        self.queue = queue
        self.campaigns = campaigns
        self.heroes = heroes
        self.events = events
        self.intake = intake
        self.outbox = outbox
        self.hero_loop = hero_loop
        self.assets = assets
        self._build_config = training_config_builder
        self._config_hash = config_hasher
        self._wake = asyncio.Event()
        self._closing = False
        self._attempt: _Attempt | None = None
        self._requested: str | None = None  # "pause" | "stop" | "skip" sent to the current worker
        self._request_reason = ""
        self._watchdog: asyncio.Task | None = None
        self._state = RunState.IDLE
        self._campaign = ""
        self._quest = ""
        self._last_step: dict[str, Any] | None = None
        self._last_checkpoint = ""
        self._message = ""
        self._update_time = time.time()
        self._last_validation_retry = 0.0
        (root / "runs").mkdir(parents=True, exist_ok=True)

    # ---- desired state -----------------------------------------------------------------------------------
    @property
    def desired(self) -> str:
        return self.queue.store.get_value(DESIRED_KEY, RUNNING)

    def _set_desired(self, value: str) -> None:
        self.queue.store.set_value(DESIRED_KEY, value)

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
    def status(self) -> RunStatus:
        queued = self.queue.store.query_one("SELECT COUNT(*) AS n FROM quests WHERE state = 'QUEUED'")
        restarts = 0
        if self._quest:
            with contextlib.suppress(RealmError):
                restarts = self.queue.get(self._quest).worker_restarts
        return RunStatus(
            state=self._state, campaign=self._campaign, quest=self._quest, last_step=self._last_step,
            last_checkpoint=self._last_checkpoint, queued_quests=int(queued["n"]) if queued else 0,
            worker_pid=self._attempt.process.pid if self._attempt else 0, worker_restarts=restarts,
            message=self._message, update_time=self._update_time,
        )

    def _send(self, word: str, reason: str) -> None:
        assert self._attempt is not None
        quest = self.queue.get(self._quest)
        control = Path(quest.run_dir) / "control"
        temp = control.with_suffix(".tmp")
        temp.write_text(word)
        os.replace(temp, control)
        self._requested = word
        self._request_reason = reason
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.get_running_loop().create_task(self._enforce(self._attempt))

    async def _enforce(self, attempt: _Attempt) -> None:
        """Kill a worker that has not honoured a control request in time; the request still applies."""
        await asyncio.sleep(self.settings.control_timeout_s)
        if attempt.process.returncode is None:
            log.warning("worker ignored a control request; killing it", pid=attempt.process.pid,
                        request=self._requested)
            _kill_group(attempt.process.pid)

    def pause(self, reason: str = "") -> RunStatus:
        self._set_desired(PAUSED)
        if self._attempt is not None and self._requested is None:
            self._send("pause", reason or "paused")
            self._set_state(RunState.PAUSING, reason or "pausing: checkpoint, then release the device")
        elif self._attempt is None:
            self._set_state(RunState.PAUSED, reason or "paused")
        return self.status()

    def stop(self, reason: str = "") -> RunStatus:
        self._set_desired(STOPPED)
        if self._attempt is not None and self._requested in (None, "pause"):
            self._send("stop", reason or "stopped")
            self._set_state(RunState.STOPPING, reason or "stopping: checkpoint, then idle until resumed")
        elif self._attempt is None:
            self._set_state(RunState.STOPPED, reason or "stopped")
        return self.status()

    def resume(self) -> RunStatus:
        self._set_desired(RUNNING)
        if self._attempt is None:
            self._set_state(RunState.IDLE, "resumed")
        self._wake.set()
        return self.status()

    def skip(self, name: str, reason: str = "") -> RunStatus:
        quest = self.queue.get(name)
        if self._attempt is not None and quest.name == self._quest:
            self._send("skip", reason or "skipped")
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
            if quest.worker_pid and _is_our_worker(quest.worker_pid, quest.run_dir):
                log.warning("killing a worker left over from a previous trainer", pid=quest.worker_pid)
                _kill_group(quest.worker_pid)
                deadline = time.monotonic() + 10
                while _is_our_worker(quest.worker_pid, quest.run_dir) and time.monotonic() < deadline:
                    time.sleep(0.05)
            self.queue.finish(quest.name, QuestState.PAUSED, "trainer restarted; resuming from the last checkpoint")
        desired = self.desired
        self._state = {PAUSED: RunState.PAUSED, STOPPED: RunState.STOPPED}.get(desired, RunState.IDLE)

    async def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last_validation_retry >= self.settings.validation_retry_s:
            self._last_validation_retry = now
            await asyncio.to_thread(self.intake.revalidate_pending)
        desired = self.desired
        campaign = self.campaigns.active()
        if desired != RUNNING:
            self._set_state(RunState.PAUSED if desired == PAUSED else RunState.STOPPED)
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
    def _model_dir_for(self, campaign: Campaign, hero: HeroSpec) -> Path:
        """Where a new quest starts: the campaign's newest checkpoint, else its starting checkpoint, else the hero."""
        if campaign.latest_checkpoint_dir and Path(campaign.latest_checkpoint_dir).is_dir():
            return model_dir_of_checkpoint(Path(campaign.latest_checkpoint_dir))
        remote = campaign.latest_checkpoint_asset or campaign.starting_checkpoint
        if remote:
            if self.assets is None:
                raise FailedPrecondition(f"campaign starts from {remote} but no vault is configured")
            # An asset never changes; an alias (starting_checkpoint) is pinned to what it named at the first pull.
            key = remote.replace("/", "_") if remote == campaign.latest_checkpoint_asset \
                else f"{campaign.campaign_id}-start"
            cache = self.root / "base" / key
            if not cache.is_dir():
                self.assets.fetch(remote, cache)
            return model_dir_of_checkpoint(cache)
        return hero.model_dir

    def _prepare(self, campaign: Campaign, quest: Quest) -> Path:
        """Write run_dir/job.json (fresh quest) or flip it to resume (PAUSED quest). Returns the job path."""
        if quest.state is QuestState.PAUSED and quest.run_dir and (Path(quest.run_dir) / "job.json").exists():
            job_path = Path(quest.run_dir) / "job.json"
            job = json.loads(job_path.read_text())
            job["resume"] = latest_checkpoint(Path(quest.run_dir)) is not None
            _write_json(job_path, job)
            self.queue.mark_resumed(quest.name)
            return job_path
        hero = self.heroes.get(campaign.hero)
        config = self._build_config(hero.config_defaults(), campaign.config_overrides)
        run_dir = self.root / "runs" / quest.quest_id
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        job = {
            "quest": quest.name,
            "campaign": campaign.name,
            "hero": hero.name,
            "model_dir": str(self._model_dir_for(campaign, hero)),
            "dataset_path": quest.file_path,
            "run_dir": str(run_dir),
            "config": config.to_dict(),
            "resume": False,
            "global_step_offset": campaign.global_step,
            "trained_tokens_offset": campaign.trained_tokens,
        }
        job_path = run_dir / "job.json"
        _write_json(job_path, job)
        self.queue.mark_started(
            quest.name, run_dir=str(run_dir), global_step_offset=campaign.global_step,
            trained_tokens_offset=campaign.trained_tokens,
        )
        return job_path

    async def _run_quest(self, campaign: Campaign, quest: Quest) -> None:
        self._campaign, self._quest = campaign.name, quest.name
        self._last_step = None
        resuming = quest.state is QuestState.PAUSED
        try:
            job_path = await asyncio.to_thread(self._prepare, campaign, quest)
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
        while True:
            self._set_state(RunState.STARTING, f"starting {quest.name}")
            try:
                attempt = await self._launch(job_path)
            except OSError as exc:  # the worker command itself cannot run: no restart will help
                self._attempt = None
                self._finish(self.queue.get(quest.name), QuestState.FAILED, f"cannot start the worker: {exc}")
                return
            outcome = attempt.terminal
            requested, reason = self._requested, self._request_reason
            self._attempt, self._requested, self._request_reason = None, None, ""
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None
            current = self.queue.get(quest.name)
            kind = outcome["event"] if outcome else None
            if kind == "completed":
                self._finish(current, QuestState.COMPLETED, "completed", loss=outcome.get("loss"))
            elif kind in ("paused", "stopped") or (kind is None and requested in ("pause", "stop")):
                word = kind or ("paused" if requested == "pause" else "stopped")
                self.queue.finish(quest.name, QuestState.PAUSED, reason or word)
                stopped = word == "stopped" or self.desired == STOPPED
                self._set_state(RunState.STOPPED if stopped else RunState.PAUSED, reason or word)
            elif kind == "skipped" or (kind is None and requested == "skip"):
                self._finish(current, QuestState.SKIPPED, reason or "skipped")
            elif kind == "failed" and not outcome.get("retryable"):
                self._finish(current, QuestState.FAILED, str(outcome.get("error") or "the worker reported a failure"))
            elif self._closing:
                self.queue.finish(quest.name, QuestState.PAUSED, "trainer shut down; resumes on the next start")
            else:
                # A crash, or a failure the worker calls retryable: resume within the restart budget.
                code = attempt.process.returncode
                error = f": {outcome.get('error')}" if outcome else ""
                restarts = self.queue.count_restart(quest.name)
                if restarts > self.settings.restart_budget:
                    self._finish(current, QuestState.FAILED,
                                 f"worker failed (exit {code}{error}) {restarts} times; restart budget is "
                                 f"{self.settings.restart_budget}")
                else:
                    checkpoint = latest_checkpoint(Path(current.run_dir))
                    self.events.publish(
                        EventKind.WORKER_RESTARTED, campaign=campaign.name, quest=quest.name,
                        checkpoint=str(checkpoint or ""),
                        message=f"worker exited with {code}{error} without finishing; restart {restarts} of "
                                f"{self.settings.restart_budget}"
                                + (f", resuming from {checkpoint.name}" if checkpoint else ", from the start"),
                        attributes={"exit_code": str(code), "restarts": str(restarts)},
                    )
                    job = json.loads(job_path.read_text())
                    job["resume"] = checkpoint is not None
                    _write_json(job_path, job)
                    if self.desired == RUNNING:
                        continue
                    self.queue.finish(quest.name, QuestState.PAUSED, "worker crashed while a pause was pending")
            return

    async def _launch(self, job_path: Path) -> _Attempt:
        run_dir = job_path.parent
        (run_dir / "control").unlink(missing_ok=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), str(REPO_ROOT / "clients"), *filter(None, [env.get("PYTHONPATH")])]
        )
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.settings.worker_env)
        with (run_dir / "worker.log").open("ab") as stderr:
            process = await asyncio.create_subprocess_exec(
                *self.settings.worker_command, "--job", str(job_path),
                stdout=asyncio.subprocess.PIPE, stderr=stderr, stdin=asyncio.subprocess.DEVNULL,
                cwd=str(REPO_ROOT), env=env, start_new_session=True, limit=16 * 1024 * 1024,
            )
        attempt = _Attempt(process)
        self._attempt = attempt
        self.queue.set_worker(self._quest, process.pid)
        # A control request made while no worker ran (e.g. pause during a crash restart) applies now.
        if self.desired == PAUSED:
            self._send("pause", "paused")
        elif self.desired == STOPPED:
            self._send("stop", "stopped")
        assert process.stdout is not None
        while True:
            line = await process.stdout.readline()
            if not line:
                break
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # not an event line; the worker logs on stderr
            if isinstance(event, dict) and "event" in event:
                await self._on_event(attempt, event)
        await process.wait()
        return attempt

    async def _on_event(self, attempt: _Attempt, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind in TERMINAL_EVENTS:
            attempt.terminal = event
            return
        if kind == "started":
            if self._requested is None:
                self._set_state(RunState.TRAINING, f"training {self._quest}")
        elif kind == "step":
            step = {k: event[k] for k in STEP_FIELDS if k in event}
            self._last_step = step
            if self._state is RunState.STARTING:
                self._set_state(RunState.TRAINING, f"training {self._quest}")
            await asyncio.to_thread(self._record_step, step)
            self.events.publish(EventKind.STEP, campaign=self._campaign, quest=self._quest, step=step)
        elif kind == "checkpoint_saved":
            await asyncio.to_thread(self._record_checkpoint, event)

    def _record_step(self, step: dict[str, Any]) -> None:
        if "quest_step" in step:
            self.queue.record_steps(self._quest, steps_done=int(step["quest_step"]),
                                    steps_total=int(step.get("quest_steps_total", 0)))
        if "global_step" in step:
            before = self.campaigns.get(self._campaign).trained_tokens
            self.campaigns.record_progress(self._campaign, global_step=int(step["global_step"]),
                                           trained_tokens=int(step.get("trained_tokens", 0)))
            after = self.campaigns.get(self._campaign).trained_tokens
            old_level, new_level = level_for_xp(before), level_for_xp(after)
            if new_level > old_level:
                title = f"Level {new_level}"
                self.campaigns.add_milestone(self._campaign, Milestone(
                    title=title, description=f"{after:,} XP (trained tokens)", reach_time=time.time(),
                    global_step=int(step["global_step"])))
                self.events.publish(EventKind.LEVEL_UP, campaign=self._campaign, quest=self._quest,
                                    message=f"the hero reached level {new_level}",
                                    attributes={"level": str(new_level), "xp": str(after)})

    def _record_checkpoint(self, event: dict[str, Any]) -> None:
        path = str(event.get("path", ""))
        quest = self.queue.get(self._quest)
        campaign = self.campaigns.get(self._campaign)
        self._last_checkpoint = path
        self.campaigns.set_latest_checkpoint_dir(campaign.name, path)
        loss = event.get("loss")
        lineage = {
            "hero": campaign.hero,
            "campaign": campaign.name,
            "quest": quest.name,
            "source_assets": [quest.dataset_asset] if quest.dataset_asset else [],
            "global_step": int(event.get("global_step", 0)),
            "config_hash": str(event.get("config_hash", "")),
            "tokenizer_hash": str(event.get("tokenizer_hash", "")),
            "chat_template_hash": str(event.get("chat_template_hash", "")),
            "metrics": {"loss": float(loss)} if isinstance(loss, int | float) else {},
        }
        self.outbox.add(checkpoint_dir=path, campaign=campaign.name, quest=quest.name,
                        global_step=int(event.get("global_step", 0)), lineage=lineage)
        self.events.publish(
            EventKind.CHECKPOINT_SAVED, campaign=campaign.name, quest=quest.name, checkpoint=path,
            message=f"checkpoint at step {event.get('global_step')}",
            attributes={"global_step": str(event.get("global_step", "")), "quest_step": str(event.get("quest_step", "")),
                        "loss": str(loss if loss is not None else "")},
        )

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
        quest = self.queue.get(self._quest)
        control = Path(quest.run_dir) / "control"
        with contextlib.suppress(OSError):
            control.write_text("pause")
        try:
            await asyncio.wait_for(attempt.process.wait(), self.settings.shutdown_grace_s)
        except TimeoutError:
            _kill_group(attempt.process.pid)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(attempt.process.wait(), 5)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temp = path.with_suffix(".tmp")
    with temp.open("w") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
