"""The run loop's transition tables and the record of one worker attempt (used by controller.py).

How an attempt ends is a function of (its terminal event, the control word sent to it); live events move the run
state; control requests are sent or not depending on what was already sent. Plain data: tested on its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from services.trainer.models import RunState
from services.trainer.worker.protocol import ControlWord, Job, WorkerEvent, WorkerEventKind


@dataclass
class Attempt:
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
    (None, ControlWord.FINISH): Ending.CRASHED,  # no final checkpoint was reported: resume and go on
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
    (ControlWord.PAUSE, ControlWord.FINISH): True,  # a finish saves and completes; a halt asked meanwhile wins
    (ControlWord.STOP, ControlWord.FINISH): True,
}
