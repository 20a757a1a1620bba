"""The background-task registry: priorities, leases, idle-only claims, cancel, restart survival, bad input."""

from __future__ import annotations

import pytest

from services.inference.priority import Activity
from services.inference.task_board import MAX_ATTEMPTS, TaskBoard
from services.inference.task_store import TaskStore
from services.kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def board(tmp_path, clock):
    made = TaskBoard(TaskStore(tmp_path / "tasks.db"), Activity(), clock=clock)
    yield made
    made.close()


def test_claims_follow_priority_then_age_and_only_the_worker_kinds(board, clock):
    low = board.create("eval", priority=10)
    clock.now += 1
    high = board.create("passives", priority=90)
    clock.now += 1
    other = board.create("sparring", priority=100)
    first = board.claim("w1", ["eval", "passives"])
    second = board.claim("w1", ["eval", "passives"])
    assert (first.name, second.name) == (high.name, low.name)
    assert first.state == "RUNNING" and first.worker == "w1" and first.attempts == 1
    assert board.claim("w1", ["eval", "passives"]) is None
    assert board.get(other.name).state == "QUEUED"


def test_nothing_is_handed_out_while_an_interactive_request_is_in_flight(board):
    task = board.create("eval")
    with board.activity.track(background=False):
        assert board.claim("w1", ["eval"]) is None
        assert not board.status().idle and board.status().interactive_requests == 1
    assert board.claim("w1", ["eval"]).name == task.name


def test_report_renews_the_lease_and_finish_records_the_result(board, clock):
    task = board.create("eval", parameters={"checkpoint": "assets/a"})
    board.claim("w1", ["eval"], lease_seconds=10)
    clock.now += 8
    reported = board.report(task.name, "w1", progress=0.5, message="half")
    assert reported.progress == 0.5 and reported.lease_expire_time == clock.now + 10
    clock.now += 8  # past the first lease, within the renewed one
    assert board.list(state="RUNNING")[0].name == task.name
    done = board.finish(task.name, "w1", succeeded=True, result={"accuracy": "0.5"})
    assert done.state == "SUCCEEDED" and done.result == {"accuracy": "0.5"} and done.progress == 1.0
    with pytest.raises(FailedPrecondition):
        board.report(task.name, "w1", progress=1.0)


def test_another_worker_cannot_report_or_finish(board):
    task = board.create("eval")
    board.claim("w1", ["eval"])
    with pytest.raises(FailedPrecondition) as caught:
        board.finish(task.name, "w2", succeeded=True)
    assert caught.value.field == "worker"


def test_an_expired_lease_requeues_and_a_task_that_keeps_expiring_fails(board, clock):
    task = board.create("eval")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claimed = board.claim(f"w{attempt}", ["eval"], lease_seconds=5)
        assert claimed.name == task.name and claimed.attempts == attempt
        clock.now += 6
    board.expire_leases()
    failed = board.get(task.name)
    assert failed.state == "FAILED" and "stopped reporting" in failed.error


def test_cancel_a_queued_task_at_once_and_a_running_one_through_its_worker(board):
    queued = board.create("eval")
    running = board.create("eval", priority=99)
    board.claim("w1", ["eval"])
    assert board.cancel(queued.name).state == "CANCELLED"
    asked = board.cancel(running.name)
    assert asked.state == "RUNNING" and asked.cancel_requested
    assert board.report(running.name, "w1", progress=0.1).cancel_requested
    assert board.finish(running.name, "w1", succeeded=False, error="stopped").state == "CANCELLED"
    with pytest.raises(FailedPrecondition):
        board.cancel(running.name)


def test_tasks_survive_a_restart_and_a_dead_workers_task_comes_back(tmp_path, clock):
    first = TaskBoard(TaskStore(tmp_path / "t.db"), Activity(), clock=clock)
    task = first.create("passives", parameters={"campaign": "c1"}, task_id="baseline-1")
    first.claim("w1", ["passives"], lease_seconds=30)
    first.close()
    clock.now += 31  # the worker died with the service; its lease ran out meanwhile
    second = TaskBoard(TaskStore(tmp_path / "t.db"), Activity(), clock=clock)
    again = second.claim("w2", ["passives"])
    assert again.name == task.name == "tasks/baseline-1" and again.attempts == 2
    assert again.parameters == {"campaign": "c1"}
    second.close()


@pytest.mark.parametrize(("call", "field"), [
    (lambda b: b.create("Bad Kind"), "task.kind"),
    (lambda b: b.create("eval", priority=101), "task.priority"),
    (lambda b: b.create("eval", task_id="UPPER"), "task_id"),
    (lambda b: b.create("eval", parameters={"k": "x" * 5000}), "task.parameters[k]"),
    (lambda b: b.claim("", ["eval"]), "worker"),
    (lambda b: b.claim("w", []), "kinds"),
    (lambda b: b.claim("w", ["eval"], lease_seconds=-1), "lease_seconds"),
    (lambda b: b.get("tasks/NOPE!"), "name"),
])
def test_bad_input_names_the_field(board, call, field):
    with pytest.raises(InvalidArgument) as caught:
        call(board)
    assert caught.value.field == field


def test_unknown_and_duplicate_tasks(board):
    with pytest.raises(NotFound):
        board.get("tasks/missing")
    board.create("eval", task_id="one")
    with pytest.raises(AlreadyExists):
        board.create("eval", task_id="one")
