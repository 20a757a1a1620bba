"""Worker entrypoint: `python -m services.trainer.worker --job JOB.json` (or under `torchrun`).

stdout carries only the JSON-lines events (one object per line); everything else (logs, library chatter,
even C-level prints) goes to stderr. With REALM_WORKER_SERVE=1 the process stays up after a completed or
skipped job: it sends `ready` and reads the next job file's path from stdin (EOF ends it).
Exit codes: 0 completed/paused/stopped/skipped, 2 invalid job, quest or config, or a non-finite loss (do not
retry), 1 any other failure (retry within the restart budget).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import sys
import traceback
from pathlib import Path

from services.kit.errors import FailedPrecondition, InvalidArgument, RealmError
from services.kit.lifetime import PARENT_PID_ENV, die_with_parent_now
from services.trainer.worker.protocol import SERVE_ENV, ControlWord, FailedEvent, ReadyEvent

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def _events_stream():
    """Keep the real stdout for events and point fd 1 at stderr for everything else."""
    events = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.trainer.worker", description=__doc__)
    parser.add_argument("--job", required=True, type=Path, help="path to the job JSON file")
    args = parser.parse_args(argv)
    if parent := os.environ.get(PARENT_PID_ENV):  # the trainer that spawned us: end with it, however it ends
        die_with_parent_now(signal.SIGKILL, int(parent))

    events = _events_stream()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s rank=" + os.environ.get("RANK", "0") + " %(message)s")
    rank = int(os.environ.get("RANK", 0))
    # Long-lived: one process (imports, allocator, thread pools) for consecutive quests. Not under torchrun,
    # whose ranks have no stdin of ours to read the next job from.
    serve = os.environ.get(SERVE_ENV) == "1" and int(os.environ.get("WORLD_SIZE", 1)) == 1

    def emit(event: dict) -> None:
        events.write(json.dumps(event, default=str) + "\n")
        events.flush()

    job_path, jobs_done = args.job, 0
    while True:
        code, outcome, job = run_job(job_path, emit, rank)
        jobs_done += 1
        # Only a quest that ended on its own keeps the process: a pause or stop releases the device, and after
        # a failure a fresh process is the clean state to go on from.
        if not serve or code != EXIT_OK or outcome not in REUSABLE_OUTCOMES or job is None:
            return code
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_OK))  # idle: nothing to checkpoint
        emit(ReadyEvent(quest=job.quest, campaign=job.campaign, jobs_done=jobs_done, pid=os.getpid()).to_dict())
        line = sys.stdin.readline().strip()
        if not line:  # EOF: the controller released us
            return EXIT_OK
        job_path = Path(line)
        _log_to(job_path.parent / "worker.log")


# The outcomes after which a long-lived worker takes another job.
REUSABLE_OUTCOMES = frozenset({"completed", "skipped"})


def _log_to(path: Path) -> None:
    """Point stderr (and the fd-1 alias of it) at this job's run_dir/worker.log; the fd also tells the trainer,
    after a restart, which run_dir this process works in (worker_process.is_our_worker)."""
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.dup2(fd, 1)
    os.close(fd)


def run_job(job_path: Path, emit, rank: int) -> tuple[int, str, object]:
    """Run one job to its end: (exit code, outcome event name or "", the job if it could be read)."""
    job = recipe = None
    try:
        from services.trainer.worker.protocol import load_job
        from services.trainer.worker.recipe import Distributed, TrainingRecipe

        job = load_job(job_path)
        recipe = TrainingRecipe(job, emit, Distributed.from_env())
        # SIGTERM (trainer shutting down) = pause: checkpoint at the next step boundary and exit 0.
        signal.signal(signal.SIGTERM, lambda *_: recipe and recipe.request_stop(ControlWord.PAUSE))
        recipe.setup()
        outcome = recipe.train()
        logging.getLogger("realm.trainer.worker").info("quest %s: %s", job.quest, outcome)
        return EXIT_OK, outcome, job
    except (InvalidArgument, FailedPrecondition, FloatingPointError) as exc:
        # Deterministic failures: a resume would replay the same computation, so retrying cannot help.
        message = exc.describe() if isinstance(exc, RealmError) else str(exc)
        if rank == 0:
            emit(_failed(job, message, exc, retryable=False))
        logging.getLogger("realm.trainer.worker").error("not retryable: %s", message)
        return EXIT_INVALID, "failed", job
    except BaseException as exc:  # noqa: BLE001 - the controller must hear about every failure
        message = exc.describe() if isinstance(exc, RealmError) else f"{type(exc).__name__}: {exc}"
        if rank == 0:
            emit(_failed(job, message, exc, retryable=True))
        traceback.print_exc(file=sys.stderr)
        return EXIT_FAILED, "failed", job
    finally:
        if recipe is not None:
            try:
                recipe.cleanup()
            except Exception:  # noqa: BLE001
                pass
        recipe = None
        gc.collect()  # the previous quest's model and optimizer go before the next one loads


def _failed(job, message: str, exc: BaseException, *, retryable: bool) -> dict:
    return FailedEvent(quest=job.quest if job else "", campaign=job.campaign if job else "", error=message,
                       kind=type(exc).__name__, retryable=retryable).to_dict()


if __name__ == "__main__":
    sys.exit(main())
