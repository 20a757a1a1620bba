"""Background tasks over real gRPC: the registry's lifecycle, claims only while idle, and background generation
yielding its batch slot to a chat request within the configured bound."""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from fixtures.kit import READ_TOKEN
from realm.inference.v1 import inference_pb2 as ipb
from realm.inference.v1 import tasks_pb2 as tpb
from realm.sdk.tasks import TaskWorker, cancel_task, create_task, get_task, list_tasks
from services.inference.app import setup as inference_setup

from .conftest import inference_settings

pytestmark = pytest.mark.integration
BOUND_SECONDS = 30.0  # generous: what is checked is that the engine yields, not how fast this machine is


@pytest.fixture
def host(services, tmp_path, hero_dir):
    settings = inference_settings(tmp_path, max_batch_size=1,
                                  background={"max_rows": 1, "max_interactive_delay_seconds": BOUND_SECONDS})
    realm = services.start(settings, "inference", inference_setup).connect()
    realm.inference.load(str(hero_dir), model_id="hero", wait=True)
    return realm


def wait_until(predicate, what: str, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_task_lifecycle_through_a_worker(host):
    first = create_task(host, "eval", {"checkpoint": "assets/a"}, priority=20, display_name="old checkpoint")
    second = create_task(host, "eval", {"checkpoint": "assets/b"}, priority=80, task_id="newer")
    seen: list[str] = []

    def handler(context):
        seen.append(context.parameters["checkpoint"])
        context.report(0.5, "half way")
        return {"accuracy": 0.25}

    worker = TaskWorker(host, "test-worker", {"eval": handler})
    done = [worker.run_once(), worker.run_once()]
    assert worker.run_once() is None
    assert seen == ["assets/b", "assets/a"]  # priority first
    assert [t.name for t in done] == ["tasks/newer", first.name] and second.name == "tasks/newer"
    assert all(t.state == tpb.TASK_STATE_SUCCEEDED and t.result["accuracy"] == "0.25" for t in done)
    tasks, scheduler = list_tasks(host, state="succeeded")
    assert {t.name for t in tasks} == {first.name, second.name}
    assert scheduler.idle and scheduler.max_interactive_delay_seconds == BOUND_SECONDS


def test_a_failing_handler_fails_the_task_and_cancel_stops_a_running_one(host):
    create_task(host, "eval", task_id="broken")
    failed = TaskWorker(host, "w", {"eval": lambda context: 1 / 0}).run_once()
    assert failed.state == tpb.TASK_STATE_FAILED and "ZeroDivisionError" in failed.error

    create_task(host, "eval", task_id="stopped")
    cancelled_inside = threading.Event()

    def handler(context):
        cancel_task(host, context.task.name)
        context.report(0.1)  # raises TaskCancelled: the worker finishes the task as cancelled
        cancelled_inside.set()

    stopped = TaskWorker(host, "w", {"eval": handler}).run_once()
    assert stopped.state == tpb.TASK_STATE_CANCELLED and not cancelled_inside.is_set()


def test_bad_task_input_is_invalid_argument_naming_the_field(host):
    with pytest.raises(grpc.RpcError) as caught:
        create_task(host, "Not A Kind")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "task.kind" in caught.value.details()
    with pytest.raises(grpc.RpcError) as caught:
        get_task(host, "missing")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        host.inference.Generate(ipb.GenerateRequest(model="models/hero", prompt="x", parameters=ipb.GenerationParameters(
            max_new_tokens=2, priority=9)))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "parameters.priority" in caught.value.details()


def test_the_read_role_may_list_but_not_create_tasks(services, host, tmp_path):
    reader = services.started["inference"].connect(READ_TOKEN)
    assert list_tasks(reader)[0] == []
    with pytest.raises(grpc.RpcError) as caught:
        create_task(reader, "eval")
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_background_generation_yields_to_a_chat_request_within_the_bound(host):
    create_task(host, "eval", task_id="waits-for-idle")
    background = host.inference.stream("hero", "background work", max_new_tokens=1500, background=True)
    first = next(background)  # a token: the background request holds the only batch slot now
    assert first.HasField("token")

    outcome: dict[str, object] = {}

    def drain() -> None:
        try:
            for _ in background:
                pass
            outcome["finished"] = True
        except grpc.RpcError as exc:
            outcome["code"], outcome["details"] = exc.code(), exc.details()

    drainer = threading.Thread(target=drain)
    drainer.start()
    reply = host.inference.chat("hero", [{"role": "user", "content": "1011 + 0110 ="}], max_new_tokens=4)
    drainer.join(60)

    assert reply.summary.queue_seconds <= BOUND_SECONDS
    assert outcome.get("code") == grpc.StatusCode.ABORTED and "preempted" in outcome["details"]
    _, scheduler = list_tasks(host)
    assert scheduler.preemptions == 1 and scheduler.bound_exceeded == 0


def test_no_task_is_handed_out_while_a_chat_request_is_in_flight(host):
    create_task(host, "eval", task_id="idle-only")
    worker = TaskWorker(host, "w", {"eval": lambda context: {"ok": "1"}})
    chat = host.inference.chat_stream("hero", [{"role": "user", "content": "hello"}], max_new_tokens=1500)
    assert next(chat).HasField("token")  # interactive work in flight
    assert worker.claim() is None
    _, scheduler = list_tasks(host)
    assert not scheduler.idle and scheduler.interactive_requests == 1
    chat.cancel()
    wait_until(lambda: list_tasks(host)[1].idle, "the host to become idle after the chat ended")
    assert worker.run_once().state == tpb.TASK_STATE_SUCCEEDED
