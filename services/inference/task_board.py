"""The background-task registry and scheduler of the inference host ("Task Master").

Tasks are registered (CreateTask) with a kind, a priority and parameters; workers that run those kinds (the
curriculum's task worker runs "eval" and "passives") claim them with a lease, report progress, and finish
them. The board hands a task out only while the host has spare capacity (`Activity.idle()`: no interactive
request in flight, no pause after the interactive bound was exceeded); the generation a worker then does is
background priority, so the engine yields it to interactive requests at once (priority.py).

Domain only: no grpc. Every blocking call here is SQLite, so the adapter runs it in a thread.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.inference.priority import Activity
from services.inference.task_store import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    TERMINAL_STATES,
    Task,
    TaskStore,
)
from services.kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
TASK_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_PARAMETERS, MAX_VALUE_CHARS = 64, 4096
DEFAULT_LEASE_SECONDS, MAX_LEASE_SECONDS = 60.0, 3600.0
# A task whose lease expired this often (its worker keeps dying on it) fails instead of looping forever.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class SchedulerStatus:
    idle: bool
    interactive_requests: int
    background_requests: int
    max_interactive_delay_seconds: float
    preemptions: int
    bound_exceeded: int


def task_id_from_name(name: str, field: str = "name") -> str:
    task_id = name.removeprefix("tasks/")
    if not TASK_ID_PATTERN.match(task_id):
        raise InvalidArgument("expected tasks/{id} with id of [a-z0-9-], at most 63 characters", field=field)
    return task_id


def _check_map(values: Mapping[str, str], field: str) -> dict[str, str]:
    if len(values) > MAX_PARAMETERS:
        raise InvalidArgument(f"at most {MAX_PARAMETERS} entries", field=field)
    for key, value in values.items():
        if not key or len(key) > 128:
            raise InvalidArgument("keys must be 1-128 characters", field=field)
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidArgument(f"value longer than {MAX_VALUE_CHARS} characters", field=f"{field}[{key}]")
    return dict(values)


def _lease(seconds: float, field: str, default: float) -> float:
    if seconds == 0:
        return default
    if not 0 < seconds <= MAX_LEASE_SECONDS:
        raise InvalidArgument(f"must be in (0, {MAX_LEASE_SECONDS:g}]", field=field)
    return float(seconds)


class TaskBoard:
    def __init__(self, store: TaskStore, activity: Activity, clock=time.time) -> None:
        self.store = store
        self.activity = activity
        self._clock = clock

    # ---- registry --------------------------------------------------------------------------------------
    def create(self, kind: str, *, priority: int = 50, parameters: Mapping[str, str] | None = None,
               display_name: str = "", task_id: str = "") -> Task:
        if not KIND_PATTERN.match(kind):
            raise InvalidArgument("must be 1-32 characters of [a-z0-9_-], starting with a letter", field="task.kind")
        if not 0 <= priority <= 100:
            raise InvalidArgument("must be in [0, 100]", field="task.priority")
        if len(display_name) > 200:
            raise InvalidArgument("at most 200 characters", field="task.display_name")
        if task_id and not TASK_ID_PATTERN.match(task_id):
            raise InvalidArgument("must be [a-z0-9-], at most 63 characters", field="task_id")
        task = Task(task_id=task_id or uuid.uuid4().hex[:16], kind=kind, priority=priority, state=QUEUED,
                    parameters=_check_map(parameters or {}, "task.parameters"), display_name=display_name,
                    create_time=self._clock())
        with self.store.transaction():
            if self.store.get(task.task_id) is not None:
                raise AlreadyExists(f"task {task.name} already exists", field="task_id")
            self.store.insert(task)
        return self.get(task.name)

    def get(self, name: str) -> Task:
        task = self.store.get(task_id_from_name(name))
        if task is None:
            raise NotFound(f"no task {name!r}", field="name")
        return task

    def list(self, *, state: str = "", kind: str = "", offset: int = 0, limit: int = 100) -> list[Task]:
        self.expire_leases()
        return self.store.list(state=state, kind=kind, offset=offset, limit=limit)

    def cancel(self, name: str) -> Task:
        with self.store.transaction():
            task = self.get(name)
            if task.state in TERMINAL_STATES:
                raise FailedPrecondition(f"task {task.name} is already {task.state}", field="name")
            if task.state == QUEUED:
                self.store.update(task.task_id, state=CANCELLED, end_time=self._clock(), error="cancelled")
            else:  # RUNNING: its worker sees cancel_requested in its next report and stops
                self.store.update(task.task_id, cancel_requested=True)
        return self.get(name)

    # ---- workers ---------------------------------------------------------------------------------------
    def status(self) -> SchedulerStatus:
        activity = self.activity
        return SchedulerStatus(
            idle=activity.idle(), interactive_requests=activity.interactive_requests,
            background_requests=activity.background_requests,
            max_interactive_delay_seconds=activity.policy.max_interactive_delay_seconds,
            preemptions=activity.preemptions, bound_exceeded=activity.bound_exceeded)

    def claim(self, worker: str, kinds: Sequence[str], lease_seconds: float = 0.0) -> Task | None:
        """The next queued task of these kinds (highest priority, then oldest), RUNNING under `worker`; None
        when there is none or the host has no spare capacity now."""
        if not worker or len(worker) > 200:
            raise InvalidArgument("name the worker (1-200 characters)", field="worker")
        if not kinds:
            raise InvalidArgument("list the task kinds this worker runs", field="kinds")
        for index, kind in enumerate(kinds):
            if not KIND_PATTERN.match(kind):
                raise InvalidArgument("not a task kind", field=f"kinds[{index}]")
        lease = _lease(lease_seconds, "lease_seconds", DEFAULT_LEASE_SECONDS)
        self.expire_leases()
        if not self.activity.idle():
            return None
        with self.store.transaction():
            task = self.store.next_queued(list(kinds))
            if task is None:
                return None
            now = self._clock()
            self.store.update(task.task_id, state=RUNNING, worker=worker, attempts=task.attempts + 1,
                              start_time=now, lease_seconds=lease, lease_expire_time=now + lease, progress=0.0,
                              message="", error="")
        return self.get(task.name)

    def _held(self, name: str, worker: str) -> Task:
        task = self.get(name)
        if task.state != RUNNING:
            raise FailedPrecondition(f"task {task.name} is {task.state}, not RUNNING", field="name")
        if task.worker != worker:
            raise FailedPrecondition(f"task {task.name} is held by {task.worker!r}, not {worker!r}", field="worker")
        return task

    def report(self, name: str, worker: str, *, progress: float = 0.0, message: str = "",
               lease_seconds: float = 0.0) -> Task:
        if not 0.0 <= progress <= 1.0:
            raise InvalidArgument("must be in [0, 1]", field="progress")
        with self.store.transaction():
            task = self._held(name, worker)
            lease = _lease(lease_seconds, "lease_seconds", task.lease_seconds or DEFAULT_LEASE_SECONDS)
            self.store.update(task.task_id, progress=progress, message=message[:1000],
                              lease_expire_time=self._clock() + lease)
        return self.get(name)

    def finish(self, name: str, worker: str, *, succeeded: bool, result: Mapping[str, str] | None = None,
               error: str = "") -> Task:
        result = _check_map(result or {}, "result")
        with self.store.transaction():
            task = self._held(name, worker)
            state = SUCCEEDED if succeeded else CANCELLED if task.cancel_requested else FAILED
            self.store.update(task.task_id, state=state, result=result, error="" if succeeded else error[:2000],
                              end_time=self._clock(), progress=1.0 if succeeded else task.progress)
        return self.get(name)

    def expire_leases(self) -> int:
        """RUNNING tasks whose worker stopped reporting go back to QUEUED (or FAILED after MAX_ATTEMPTS)."""
        now = self._clock()
        with self.store.transaction():
            expired = self.store.expired(now)
            for task in expired:
                if task.attempts >= MAX_ATTEMPTS:
                    self.store.update(task.task_id, state=FAILED, end_time=now,
                                      error=f"its worker stopped reporting {task.attempts} times")
                elif task.cancel_requested:
                    self.store.update(task.task_id, state=CANCELLED, end_time=now, error="cancelled")
                else:
                    self.store.update(task.task_id, state=QUEUED, message=f"lease of {task.worker} expired")
        return len(expired)

    def close(self) -> None:
        self.store.close()
