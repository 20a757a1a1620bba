"""The background-task RPCs of InferenceService (tasks.proto): proto -> TaskBoard -> proto, off the event loop.

A mixin of InferenceServicer (one gRPC service holds both); `tasks` is set by app.py.
"""

from __future__ import annotations

import asyncio

from realm.inference.v1 import inference_pb2 as pb
from realm.inference.v1 import tasks_pb2 as tpb
from services.inference.task_board import SchedulerStatus, TaskBoard
from services.inference.task_store import Task
from services.kit.convert import to_timestamp
from services.kit.errors import FailedPrecondition, InvalidArgument
from services.kit.paging import decode_offset, encode_token, page_size

_STATES = {"QUEUED": tpb.TASK_STATE_QUEUED, "RUNNING": tpb.TASK_STATE_RUNNING,
           "SUCCEEDED": tpb.TASK_STATE_SUCCEEDED, "FAILED": tpb.TASK_STATE_FAILED,
           "CANCELLED": tpb.TASK_STATE_CANCELLED}
_STATES_IN = {number: name for name, number in _STATES.items()}
_PRIORITIES = {pb.REQUEST_PRIORITY_UNSPECIFIED: False, pb.REQUEST_PRIORITY_INTERACTIVE: False,
               pb.REQUEST_PRIORITY_BACKGROUND: True}


def background_from_pb(priority: int) -> bool:
    if priority not in _PRIORITIES:
        raise InvalidArgument(f"unknown priority {priority}", field="parameters.priority")
    return _PRIORITIES[priority]


def task_to_pb(task: Task) -> tpb.Task:
    return tpb.Task(
        name=task.name, kind=task.kind, priority=task.priority, state=_STATES[task.state],
        parameters=task.parameters, display_name=task.display_name, worker=task.worker, progress=task.progress,
        message=task.message, result=task.result, error=task.error, attempts=task.attempts,
        create_time=to_timestamp(task.create_time), start_time=to_timestamp(task.start_time or None),
        end_time=to_timestamp(task.end_time or None),
        lease_expire_time=to_timestamp(task.lease_expire_time or None), cancel_requested=task.cancel_requested)


def status_to_pb(status: SchedulerStatus) -> tpb.TaskSchedulerStatus:
    return tpb.TaskSchedulerStatus(
        idle=status.idle, interactive_requests=status.interactive_requests,
        background_requests=status.background_requests,
        max_interactive_delay_seconds=status.max_interactive_delay_seconds, preemptions=status.preemptions,
        bound_exceeded=status.bound_exceeded)


class TaskRpcs:
    tasks: TaskBoard | None = None

    def _board(self) -> TaskBoard:
        if self.tasks is None:
            raise FailedPrecondition("background tasks are not enabled on this inference service")
        return self.tasks

    async def CreateTask(self, request: tpb.CreateTaskRequest, context) -> tpb.CreateTaskResponse:
        task = request.task
        created = await asyncio.to_thread(
            self._board().create, task.kind, priority=task.priority, parameters=dict(task.parameters),
            display_name=task.display_name, task_id=request.task_id)
        return tpb.CreateTaskResponse(task=task_to_pb(created))

    async def GetTask(self, request: tpb.GetTaskRequest, context) -> tpb.GetTaskResponse:
        return tpb.GetTaskResponse(task=task_to_pb(await asyncio.to_thread(self._board().get, request.name)))

    async def ListTasks(self, request: tpb.ListTasksRequest, context) -> tpb.ListTasksResponse:
        if request.state not in _STATES_IN and request.state != tpb.TASK_STATE_UNSPECIFIED:
            raise InvalidArgument(f"unknown state {request.state}", field="state")
        filters = {"state": request.state, "kind": request.kind}
        size = page_size(request.page_size)
        offset = decode_offset(request.page_token, filters)
        board = self._board()
        found = await asyncio.to_thread(board.list, state=_STATES_IN.get(request.state, ""), kind=request.kind,
                                        offset=offset, limit=size + 1)
        token = encode_token(offset + size, filters) if len(found) > size else ""
        return tpb.ListTasksResponse(tasks=[task_to_pb(t) for t in found[:size]], next_page_token=token,
                                     scheduler=status_to_pb(board.status()))

    async def CancelTask(self, request: tpb.CancelTaskRequest, context) -> tpb.CancelTaskResponse:
        return tpb.CancelTaskResponse(task=task_to_pb(await asyncio.to_thread(self._board().cancel, request.name)))

    async def ClaimTask(self, request: tpb.ClaimTaskRequest, context) -> tpb.ClaimTaskResponse:
        board = self._board()
        task = await asyncio.to_thread(board.claim, request.worker, list(request.kinds), request.lease_seconds)
        response = tpb.ClaimTaskResponse(scheduler=status_to_pb(board.status()))
        if task is not None:
            response.task.CopyFrom(task_to_pb(task))
        return response

    async def ReportTask(self, request: tpb.ReportTaskRequest, context) -> tpb.ReportTaskResponse:
        task = await asyncio.to_thread(self._board().report, request.name, request.worker,
                                       progress=request.progress, message=request.message,
                                       lease_seconds=request.lease_seconds)
        return tpb.ReportTaskResponse(task=task_to_pb(task))

    async def FinishTask(self, request: tpb.FinishTaskRequest, context) -> tpb.FinishTaskResponse:
        task = await asyncio.to_thread(self._board().finish, request.name, request.worker,
                                       succeeded=request.succeeded, result=dict(request.result),
                                       error=request.error)
        return tpb.FinishTaskResponse(task=task_to_pb(task))
