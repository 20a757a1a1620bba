"""Background tasks on the inference host (tasks.proto): register, list, cancel, and run them as a worker.

    from realm.sdk import connect
    from realm.sdk.tasks import create_task, list_tasks, TaskWorker

    realm = connect()
    task = create_task(realm, "passives", {"campaign": "c1", "checkpoint": "assets/abc"}, priority=60)

A worker claims tasks of the kinds it has handlers for (only while the host is idle), runs the handler with a
`TaskContext` (report progress, which renews the lease; `cancelled` when someone cancelled the task), and
finishes the task with the handler's result (a dict of strings) or its error. Generation a handler does should
be background priority (`realm.inference.chat(..., background=True)`), so the engine yields it to interactive
requests (ABORTED "preempted": retry it later).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from realm.inference.v1 import tasks_pb2 as pb

STATES = {name.removeprefix("TASK_STATE_").lower(): number for name, number in pb.TaskState.items()
          if number != pb.TASK_STATE_UNSPECIFIED}


def task_name(task: str) -> str:
    return task if task.startswith("tasks/") else f"tasks/{task}"


def create_task(realm, kind: str, parameters: Mapping[str, str] | None = None, *, priority: int = 50,
                display_name: str = "", task_id: str = "") -> pb.Task:
    task = pb.Task(kind=kind, priority=priority, parameters=dict(parameters or {}), display_name=display_name)
    return realm.inference.CreateTask(pb.CreateTaskRequest(task=task, task_id=task_id)).task


def get_task(realm, task: str) -> pb.Task:
    return realm.inference.GetTask(pb.GetTaskRequest(name=task_name(task))).task


def cancel_task(realm, task: str) -> pb.Task:
    return realm.inference.CancelTask(pb.CancelTaskRequest(name=task_name(task))).task


def list_tasks(realm, *, state: str = "", kind: str = "", page_size: int = 100
               ) -> tuple[list[pb.Task], pb.TaskSchedulerStatus]:
    """Every task (newest first) with the scheduler's status; `state` is queued/running/succeeded/…"""
    if state and state not in STATES:
        raise ValueError(f"state must be one of {sorted(STATES)}, got {state!r}")
    request = pb.ListTasksRequest(page_size=page_size, state=STATES.get(state, 0), kind=kind)
    tasks: list[pb.Task] = []
    while True:
        response = realm.inference.ListTasks(request)
        tasks.extend(response.tasks)
        if not response.next_page_token:
            return tasks, response.scheduler
        request.page_token = response.next_page_token


class TaskCancelled(Exception):
    """Raised by TaskContext.report when the task was cancelled: the handler stops there."""


class TaskContext:
    def __init__(self, realm, task: pb.Task, worker: str) -> None:
        self.realm = realm
        self.task = task
        self.worker = worker

    @property
    def parameters(self) -> dict[str, str]:
        return dict(self.task.parameters)

    def report(self, progress: float, message: str = "") -> None:
        """Progress 0-1 (renews the lease); raises TaskCancelled when the task was cancelled meanwhile."""
        self.task = self.realm.inference.ReportTask(pb.ReportTaskRequest(
            name=self.task.name, worker=self.worker, progress=min(max(progress, 0.0), 1.0), message=message)).task
        if self.task.cancel_requested:
            raise TaskCancelled(f"{self.task.name} was cancelled")


Handler = Callable[[TaskContext], Mapping[str, Any] | None]


class TaskWorker:
    """Claims and runs tasks in a thread: `start()`, `close()`; `run_once()` for one claim (tests, scripts)."""

    def __init__(self, realm, worker: str, handlers: Mapping[str, Handler], *, lease_seconds: float = 120.0,
                 poll_seconds: float = 5.0, on_error: Callable[[Exception], None] | None = None) -> None:
        self.realm = realm
        self.worker = worker
        self.handlers = dict(handlers)
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.claim_timeout_seconds = 10.0
        self._on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def claim(self) -> pb.Task | None:
        response = self.realm.inference.ClaimTask(pb.ClaimTaskRequest(
            worker=self.worker, kinds=sorted(self.handlers), lease_seconds=self.lease_seconds),
            timeout=self.claim_timeout_seconds)
        return response.task if response.HasField("task") else None

    def run(self, task: pb.Task) -> pb.Task:
        context = TaskContext(self.realm, task, self.worker)
        try:
            result = self.handlers[task.kind](context) or {}
        except Exception as exc:  # the task failed (or was cancelled): its state says why
            request = pb.FinishTaskRequest(name=task.name, worker=self.worker, succeeded=False,
                                           error=f"{type(exc).__name__}: {exc}")
        else:
            request = pb.FinishTaskRequest(name=task.name, worker=self.worker, succeeded=True,
                                           result={str(k): str(v) for k, v in result.items()})
        return self.realm.inference.FinishTask(request).task

    def run_once(self) -> pb.Task | None:
        task = self.claim()
        return self.run(task) if task is not None else None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.run_once()
            except Exception as exc:  # inference down or busy: look again later
                done = None
                if self._on_error is not None:
                    self._on_error(exc)
            if done is None:
                self._stop.wait(self.poll_seconds)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"tasks-{self.worker}", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

