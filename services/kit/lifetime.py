"""Child processes that end with their parent, however the parent ends (SIGKILL included).

Linux's PR_SET_PDEATHSIG, set in the child between fork and exec, makes the kernel send the child a signal
when its parent dies; it survives exec. Pass `preexec_fn=die_with_parent()` to subprocess.Popen or
asyncio.create_subprocess_exec. The signal fires when the *thread* that forked the child exits, so spawn
long-lived children from a long-lived thread (the main thread or the event loop's), never from a pool thread.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None]:
    """A preexec function: the child receives `signum` when this process (the spawning thread) dies."""
    parent = os.getpid()
    # Resolved here, before fork: the child should do as little as possible before exec.
    prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None

    def preexec() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect: act as if it had fired
            os.kill(os.getpid(), signum)

    return preexec


# The environment variable naming the parent a child should die with (set by the parent, read by the child).
PARENT_PID_ENV = "REALM_DIE_WITH_PARENT_PID"


def die_with_parent_now(signum: int, parent: int) -> None:
    """The same as `die_with_parent`, set by the child itself, first thing after exec.

    For parents with gRPC threads: any preexec_fn makes subprocess fork() (not vfork), and gRPC's fork handlers
    can then abort the child before exec ("mutex.cc ... Check w->waitp->cv_word == nullptr failed"). Spawn without
    preexec_fn, pass `PARENT_PID_ENV=<os.getpid()>`, and call this at the child's start; a parent that died in
    between is caught by the getppid check."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signum)


def die_with_parent_from_env(signum: int = signal.SIGTERM) -> None:
    """`die_with_parent_now` for a process whose parent named itself in PARENT_PID_ENV (the supervisor does);
    the variable is removed so this process's own children never inherit it."""
    parent = os.environ.pop(PARENT_PID_ENV, None)
    if parent:
        die_with_parent_now(signum, int(parent))
