"""The worker as an OS process: spawn it in its own process group, read its events, recognise and kill it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import structlog

from services.kit.lifetime import die_with_parent
from services.trainer.config import ControllerSettings
from services.trainer.worker.protocol import JOB_FILE, Job, MalformedEvent, WorkerEvent

log = structlog.get_logger("realm.trainer.worker_process")

# Long lines are fine (a started event names paths); asyncio's default limit is 64 KiB.
STDOUT_LIMIT = 16 * 1024 * 1024


async def spawn_worker(settings: ControllerSettings, job: Job) -> asyncio.subprocess.Process:
    """Start `worker_command --job run_dir/job.json`; stdout is the event pipe, stderr goes to run_dir/worker.log.

    Call it from the event loop's thread: the worker is killed when that thread's process dies (SIGKILL, not a
    pause: a restarted trainer resumes from the last periodic checkpoint, as after any crash)."""
    code_root = settings.code_root
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(code_root), str(code_root / "clients"), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings.worker_env)
    with (job.run_dir / "worker.log").open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            *settings.worker_command, "--job", str(job.path),
            stdout=asyncio.subprocess.PIPE, stderr=stderr, stdin=asyncio.subprocess.DEVNULL,
            cwd=str(code_root), env=env, start_new_session=True, limit=STDOUT_LIMIT,
            preexec_fn=die_with_parent(signal.SIGKILL),
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


def is_our_worker(pid: int, run_dir: str) -> bool:
    """True when pid is a live worker of this run_dir (its command line names run_dir/job.json)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return bool(run_dir) and f"{run_dir}/{JOB_FILE}".encode() in cmdline


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
