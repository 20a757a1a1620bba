"""The worker as an OS process: spawn it in its own process group, read its events, hand a long-lived one its
next job, recognise and kill it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import structlog

from services.kit.lifetime import PARENT_PID_ENV
from services.trainer.config import ControllerSettings
from services.trainer.worker.protocol import (
    JOB_FILE,
    SERVE_ENV,
    Job,
    MalformedEvent,
    WorkerEvent,
    WorkerEventKind,
)

log = structlog.get_logger("realm.trainer.worker_process")

# Long lines are fine (a started event names paths); asyncio's default limit is 64 KiB.
STDOUT_LIMIT = 16 * 1024 * 1024


async def spawn_worker(settings: ControllerSettings, job: Job) -> asyncio.subprocess.Process:
    """Start `worker_command --job run_dir/job.json`; stdout is the event pipe, stderr goes to run_dir/worker.log.

    Call it from the event loop's thread: the worker is killed when that thread's process dies (SIGKILL, not a
    pause: a restarted trainer resumes from the last periodic checkpoint, as after any crash). The worker sets
    that up itself (kit lifetime.die_with_parent_now): no preexec_fn, which would make this gRPC process fork()
    and could abort the child in gRPC's fork handler before it ever runs."""
    code_root = settings.code_root
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(code_root), str(code_root / "clients"), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["PYTHONUNBUFFERED"] = "1"
    env[PARENT_PID_ENV] = str(os.getpid())
    if settings.worker_reuse:
        env[SERVE_ENV] = "1"
    env.update(settings.worker_env)
    with (job.run_dir / "worker.log").open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            *settings.worker_command, "--job", str(job.path),
            stdout=asyncio.subprocess.PIPE, stderr=stderr, stdin=asyncio.subprocess.PIPE,
            cwd=str(code_root), env=env, start_new_session=True, limit=STDOUT_LIMIT,
        )


async def worker_events(process: asyncio.subprocess.Process) -> AsyncIterator[WorkerEvent]:
    """The events on the worker's stdout until it closes; other lines are skipped (the worker logs on stderr)."""
    assert process.stdout is not None
    while line := await process.stdout.readline():
        try:
            event = WorkerEvent.from_json(line)
        except MalformedEvent as exc:
            log.warning("ignoring a malformed worker event", error=str(exc), line=line[:200])
            continue
        if event is not None:
            yield event


class WorkerHandle:
    """One worker process and its event pipe, kept across jobs while it says `ready` after each."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.ready = False  # the last job ended with `ready`: the process waits on stdin for the next one
        self.jobs = 1

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def events(self) -> AsyncIterator[WorkerEvent]:
        """The current job's events, until the worker says `ready` (it stays up) or its stdout closes."""
        self.ready = False
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            try:
                event = WorkerEvent.from_json(line)
            except MalformedEvent as exc:
                log.warning("ignoring a malformed worker event", error=str(exc), line=line[:200])
                continue
            if event is None:
                continue
            if event.KIND is WorkerEventKind.READY:
                self.ready = True
                return
            yield event

    async def hand(self, job: Job) -> bool:
        """Give an idle worker its next job; False when it can no longer take one (it died meanwhile)."""
        if not (self.ready and self.alive) or self.process.stdin is None:
            return False
        try:
            self.process.stdin.write(f"{job.path}\n".encode())
            await self.process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return False
        self.ready = False
        self.jobs += 1
        return True

    async def release(self, grace_s: float = 10.0) -> None:
        """Let an idle worker exit (EOF on stdin); kill it if it does not within grace_s."""
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), grace_s)
        except TimeoutError:
            kill_group(self.process.pid)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 5)


def is_our_worker(pid: int, run_dir: str) -> bool:
    """True when pid is a live worker of this run_dir: its command line names run_dir/job.json, or (a long-lived
    worker on a later job) its stderr is that run_dir's worker.log."""
    if not run_dir:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if f"{run_dir}/{JOB_FILE}".encode() in cmdline:
        return True
    try:
        return os.readlink(f"/proc/{pid}/fd/2") == str(Path(run_dir) / "worker.log")
    except OSError:
        return False


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
