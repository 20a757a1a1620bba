"""The service kit against a real grpc.aio server on port 0: auth, health, errors, request ids, SDK behaviour."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fixtures.kit import ADMIN_TOKEN, READ_TOKEN, make_test_settings, serve_for_test
from realm.sdk import connect
from realm.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from services.kit import errors
from services.kit.logs import configure_logging

pytestmark = pytest.mark.integration

ERRORS = {
    "InvalidArgument": (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    "NotFound": (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    "AlreadyExists": (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    "FailedPrecondition": (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    "ResourceExhausted": (errors.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    "Unavailable": (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
    "PermissionDenied": (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    "Aborted": (errors.Aborted, grpc.StatusCode.ABORTED),
}


class ProbeServicer(trainer_pb2_grpc.TrainerServiceServicer):
    """A servicer built to exercise the kit: it raises on request and counts calls."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.seen_deadline: float | None = None

    def _count(self, name: str) -> int:
        self.calls[name] = self.calls.get(name, 0) + 1
        return self.calls[name]

    async def GetHero(self, request, context):
        count = self._count("GetHero")
        self.seen_deadline = context.time_remaining()
        kind = request.name.removeprefix("heroes/")
        if kind in ERRORS:
            raise ERRORS[kind][0]("bad hero", field="name")
        if kind == "crash":
            raise RuntimeError("secret internal detail")
        if kind == "flaky" and count == 1:
            raise errors.Unavailable("warming up")
        if kind == "slow":
            await asyncio.sleep(2)
        return trainer_pb2.GetHeroResponse(hero=trainer_pb2.Hero(name=request.name))

    async def PauseTraining(self, request, context):
        count = self._count("PauseTraining")
        if request.reason == "flaky" and count == 1:
            raise errors.Unavailable("warming up")
        return trainer_pb2.PauseTrainingResponse()

    async def StreamEvents(self, request, context):
        for i in range(3):
            yield trainer_pb2.StreamEventsResponse(event=trainer_pb2.Event(sequence=request.after_sequence + i + 1))
        if request.history_only:
            raise errors.FailedPrecondition("history ends here")


@pytest.fixture
async def running(tmp_path):
    servicer = ProbeServicer()

    async def setup(server):
        server.add(servicer, trainer_pb2_grpc.add_TrainerServiceServicer_to_server, "realm.trainer.v1.TrainerService")

    async with serve_for_test(make_test_settings(tmp_path), "trainer", setup) as service:
        service.servicer = servicer
        yield service


def sdk(running, token=ADMIN_TOKEN, **kw):
    return connect(addresses={"trainer": running.address}, token=token, **kw)


async def call(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


async def expect_code(code, fn, *args, **kwargs):
    with pytest.raises(grpc.RpcError) as caught:
        await call(fn, *args, **kwargs)
    assert caught.value.code() == code, caught.value.details()
    return caught.value


async def test_auth_accepts_admin_and_read_for_reads(running):
    for token in (ADMIN_TOKEN, READ_TOKEN):
        reply = await call(sdk(running, token).trainer.GetHero, trainer_pb2.GetHeroRequest(name="heroes/ok"))
        assert reply.hero.name == "heroes/ok"


async def test_auth_rejects_missing_and_bad_tokens(running):
    err = await expect_code(grpc.StatusCode.UNAUTHENTICATED, sdk(running, None).trainer.GetHero,
                            trainer_pb2.GetHeroRequest(name="heroes/ok"))
    assert "bearer" in err.details()
    await expect_code(grpc.StatusCode.UNAUTHENTICATED, sdk(running, "wrong-token-123").trainer.GetHero,
                      trainer_pb2.GetHeroRequest(name="heroes/ok"))
    assert running.servicer.calls.get("GetHero", 0) == 0


async def test_read_role_cannot_write(running):
    err = await expect_code(grpc.StatusCode.PERMISSION_DENIED, sdk(running, READ_TOKEN).trainer.PauseTraining,
                            trainer_pb2.PauseTrainingRequest())
    assert "admin" in err.details()
    assert "PauseTraining" not in running.servicer.calls
    await call(sdk(running).trainer.PauseTraining, trainer_pb2.PauseTrainingRequest())


async def test_health_and_reflection_are_open(running):
    def check():
        with grpc.insecure_channel(running.address) as channel:
            return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))

    assert (await call(check)).status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("kind", sorted(ERRORS))
async def test_domain_errors_map_to_status_codes(running, kind):
    err = await expect_code(ERRORS[kind][1], sdk(running).trainer.GetHero,
                            trainer_pb2.GetHeroRequest(name=f"heroes/{kind}"), timeout=5)
    assert err.details() == "name: bad hero"


async def test_unknown_errors_are_internal_and_not_echoed(running):
    err = await expect_code(grpc.StatusCode.INTERNAL, sdk(running).trainer.GetHero,
                            trainer_pb2.GetHeroRequest(name="heroes/crash"))
    assert "secret" not in err.details()
    assert "request id" in err.details()


async def test_streaming_errors_are_mapped_after_items(running):
    def consume():
        stream = sdk(running).trainer.StreamEvents(trainer_pb2.StreamEventsRequest(after_sequence=5,
                                                                                   history_only=True))
        seen = []
        try:
            for item in stream:
                seen.append(item.event.sequence)
        except grpc.RpcError as exc:
            return seen, exc.code()
        return seen, None

    seen, code = await call(consume)
    assert seen == [6, 7, 8]
    assert code == grpc.StatusCode.FAILED_PRECONDITION


async def test_unimplemented_rpcs_say_so(running):
    await expect_code(grpc.StatusCode.UNIMPLEMENTED, sdk(running).trainer.ListHeroes, trainer_pb2.ListHeroesRequest())


async def test_request_id_is_logged_on_the_canonical_line(running, capsys):
    configure_logging("info", "json", service="trainer")
    client = sdk(running)
    await call(client.trainer.GetHero, trainer_pb2.GetHeroRequest(name="heroes/ok"),
               metadata=[("x-request-id", "req-abc-123")])
    await asyncio.sleep(0.05)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    rpc_lines = [entry for entry in lines if entry.get("event") == "rpc"]
    assert rpc_lines, lines
    line = rpc_lines[-1]
    assert line["request_id"] == "req-abc-123"
    assert line["method"] == "/realm.trainer.v1.TrainerService/GetHero"
    assert line["code"] == "OK"
    assert line["duration_ms"] >= 0
    assert line["peer"].startswith("ipv4:127.0.0.1")


async def test_sdk_sets_a_default_deadline(running):
    await call(sdk(running).trainer.GetHero, trainer_pb2.GetHeroRequest(name="heroes/ok"))
    assert running.servicer.seen_deadline is not None and 0 < running.servicer.seen_deadline <= 30.5
    await expect_code(grpc.StatusCode.DEADLINE_EXCEEDED, sdk(running).trainer.GetHero,
                      trainer_pb2.GetHeroRequest(name="heroes/slow"), timeout=0.3)


async def test_sdk_retries_reads_on_unavailable_but_never_writes(running):
    reply = await call(sdk(running).trainer.GetHero, trainer_pb2.GetHeroRequest(name="heroes/flaky"))
    assert reply.hero.name == "heroes/flaky"
    assert running.servicer.calls["GetHero"] == 2

    await expect_code(grpc.StatusCode.UNAVAILABLE, sdk(running).trainer.PauseTraining,
                      trainer_pb2.PauseTrainingRequest(reason="flaky"))
    assert running.servicer.calls["PauseTraining"] == 1


async def test_sdk_shares_one_channel_per_target(running):
    from realm.sdk import core

    first = sdk(running).trainer
    second = sdk(running).trainer
    assert core.shared_channel(first.target, first.spec) is core.shared_channel(second.target, second.spec)


async def test_health_transitions_through_startup_and_shutdown(tmp_path):
    gate: dict = {}

    async def setup(server):
        server.add(ProbeServicer(), trainer_pb2_grpc.add_TrainerServiceServicer_to_server,
                   "realm.trainer.v1.TrainerService")
        server.set_serving(False)  # e.g. still loading
        gate["server"] = server

    seen: list[str] = []
    async with serve_for_test(make_test_settings(tmp_path), "trainer", setup, grace=1.0) as service:
        channel = grpc.insecure_channel(service.address)
        stub = health_pb2_grpc.HealthStub(channel)
        name = health_pb2.HealthCheckResponse.ServingStatus.Name

        def watch():
            try:
                for update in stub.Watch(health_pb2.HealthCheckRequest(service="realm.trainer.v1.TrainerService")):
                    seen.append(name(update.status))
            except grpc.RpcError:
                pass

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        gate["server"].set_serving(True)
        while "SERVING" not in seen and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    await asyncio.to_thread(watcher.join, 5)
    channel.close()
    assert seen[0] == "NOT_SERVING"
    assert seen.index("SERVING") > 0
    assert seen[-1] == "NOT_SERVING" and len(seen) >= 3, seen
