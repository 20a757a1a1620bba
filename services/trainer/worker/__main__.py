"""Worker entrypoint: `python -m services.trainer.worker --job JOB.json` (or under `torchrun`).

stdout carries only the JSON-lines events (one object per line); everything else (logs, library chatter,
even C-level prints) goes to stderr. Exit codes: 0 completed/paused/stopped/skipped, 2 invalid job, quest or
config, or a non-finite loss (do not retry), 1 any other failure (retry within the restart budget).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import traceback
from pathlib import Path

from services.kit.errors import FailedPrecondition, InvalidArgument, RealmError
from services.trainer.worker.protocol import ControlWord, FailedEvent

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

    events = _events_stream()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s rank=" + os.environ.get("RANK", "0") + " %(message)s")
    rank = int(os.environ.get("RANK", 0))

    def emit(event: dict) -> None:
        events.write(json.dumps(event, default=str) + "\n")
        events.flush()

    job = recipe = None
    try:
        from services.trainer.worker.protocol import load_job
        from services.trainer.worker.recipe import Distributed, TrainingRecipe

        job = load_job(args.job)
        recipe = TrainingRecipe(job, emit, Distributed.from_env())
        # SIGTERM (trainer shutting down) = pause: checkpoint at the next step boundary and exit 0.
        signal.signal(signal.SIGTERM, lambda *_: recipe.request_stop(ControlWord.PAUSE))
        recipe.setup()
        outcome = recipe.train()
        logging.getLogger("realm.trainer.worker").info("quest %s: %s", job.quest, outcome)
        return EXIT_OK
    except (InvalidArgument, FailedPrecondition, FloatingPointError) as exc:
        # Deterministic failures: a resume would replay the same computation, so retrying cannot help.
        message = exc.describe() if isinstance(exc, RealmError) else str(exc)
        if rank == 0:
            emit(_failed(job, message, exc, retryable=False))
        logging.getLogger("realm.trainer.worker").error("not retryable: %s", message)
        return EXIT_INVALID
    except BaseException as exc:  # noqa: BLE001 - the controller must hear about every failure
        message = exc.describe() if isinstance(exc, RealmError) else f"{type(exc).__name__}: {exc}"
        if rank == 0:
            emit(_failed(job, message, exc, retryable=True))
        traceback.print_exc(file=sys.stderr)
        return EXIT_FAILED
    finally:
        if recipe is not None:
            try:
                recipe.cleanup()
            except Exception:  # noqa: BLE001
                pass


def _failed(job, message: str, exc: BaseException, *, retryable: bool) -> dict:
    return FailedEvent(quest=job.quest if job else "", campaign=job.campaign if job else "", error=message,
                       kind=type(exc).__name__, retryable=retryable).to_dict()


if __name__ == "__main__":
    sys.exit(main())
