"""The warden over real gRPC servers: health Watch streams, the Check fallback, reconnects, alerts and disks."""

import asyncio
import contextlib

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from fixtures.kit import READ_TOKEN, make_test_settings, serve_for_test, with_ports
from fixtures.ports import refusing_port
from realm.warden.v1 import warden_pb2, warden_pb2_grpc
from services.kit.server import ServiceServer
from services.warden.app import setup

pytestmark = pytest.mark.integration
WATCHED = {"probe_interval_seconds": 0.2, "probe_timeout_seconds": 0.5, "backoff_initial_seconds": 0.05,
           "backoff_max_seconds": 0.2, "keepalive_seconds": 1.0}


async def test_fleet_status_and_watch(tmp_path):
    with refusing_port() as dead_port:  # the curriculum is down: nothing listens there while the test runs
        await check_fleet_status_and_watch(tmp_path, dead_port)


async def check_fleet_status_and_watch(tmp_path, dead_port: int):
    settings = make_test_settings(
        tmp_path,
        services={"warden": {"host": "local", "port": 0}, "curriculum": {"host": "local", "port": dead_port, "depends_on": []}},
        warden={"probe_interval_seconds": 0.2, "probe_timeout_seconds": 0.5},
    )
    async with serve_for_test(settings, "warden", setup) as running:
        client = running.connect(token=READ_TOKEN).warden
        status = (await asyncio.to_thread(client.GetFleetStatus, warden_pb2.GetFleetStatusRequest())).status
        assert status.state == warden_pb2.FLEET_STATE_OFFLINE
        (host,) = status.hosts
        assert host.name == "hosts/local"
        (curriculum,) = host.services
        assert curriculum.state == warden_pb2.SERVING_STATE_UNREACHABLE

        page = await asyncio.to_thread(client.ListHosts, warden_pb2.ListHostsRequest(page_size=1))
        assert [h.name for h in page.hosts] == ["hosts/local"] and page.next_page_token == ""
        with pytest.raises(grpc.RpcError) as caught:
            await asyncio.to_thread(client.GetHost, warden_pb2.GetHostRequest(name="nothosts/x"))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "name" in caught.value.details()
        with pytest.raises(grpc.RpcError) as caught:
            await asyncio.to_thread(client.GetHost, warden_pb2.GetHostRequest(name="hosts/x"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

        def first_watch_update():
            stream = client.WatchFleet(warden_pb2.WatchFleetRequest())
            first = next(iter(stream))
            stream.cancel()
            return first

        first = await asyncio.to_thread(first_watch_update)
        assert first.status.total == 1


@contextlib.asynccontextmanager
async def fleet_watch(address: str):
    """An async iterator over the warden's WatchFleet stream."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = warden_pb2_grpc.WardenServiceStub(channel)
        yield stub.WatchFleet(warden_pb2.WatchFleetRequest(),
                              metadata=(("authorization", f"Bearer {READ_TOKEN}"),))


def service(update: warden_pb2.WatchFleetResponse, name: str) -> warden_pb2.ServiceHealth:
    return next(s for h in update.status.hosts for s in h.services if s.service == name)


async def until(stream, predicate) -> warden_pb2.WatchFleetResponse:
    """The first update of the stream that satisfies `predicate` (the stream is the event we wait on)."""
    async for update in stream:
        if predicate(update):
            return update
    raise AssertionError("WatchFleet ended")


async def start_vault(settings, port: int) -> ServiceServer:
    """The vault on `port`: 0 the first time (read back), then the port it had (its watchers keep its address)."""
    server = ServiceServer(settings, "vault", port=port, metrics_port=False)
    await server.prepare()
    await server.start()
    return server


async def test_watch_sees_a_service_go_down_come_back_and_alerts_when_it_stays_down(tmp_path):
    settings = make_test_settings(
        tmp_path,
        services={"warden": {"host": "local", "port": 0}, "vault": {"host": "local", "port": 0}},
        warden={**WATCHED, "alert_after_seconds": 0.5, "critical_services": ["vault"],
                "disk": {"warn_percent": 99.9, "critical_percent": 100}},
    )
    vault = await start_vault(settings, 0)
    vault_port = vault.bound_port
    settings = with_ports(settings, {"vault": vault_port})  # the warden watches the vault where it listens
    try:
        async with serve_for_test(settings, "warden", setup) as warden, fleet_watch(warden.address) as stream:
            first = await until(stream, lambda u: service(u, "vault").state == warden_pb2.SERVING_STATE_SERVING)
            watched = service(first, "vault")
            assert watched.mode == warden_pb2.PROBE_MODE_WATCH and watched.latency_ms > 0
            assert first.status.state == warden_pb2.FLEET_STATE_ONLINE and not first.status.alerts

            await vault.stop(0.1)
            down = await until(stream, lambda u: service(u, "vault").state != warden_pb2.SERVING_STATE_SERVING)
            assert down.status.state == warden_pb2.FLEET_STATE_OFFLINE
            alerted = await until(stream, lambda u: u.alert_events)
            (event,) = alerted.alert_events
            assert event.kind == warden_pb2.ALERT_KIND_SERVICE_DOWN and event.severity == warden_pb2.ALERT_SEVERITY_CRITICAL
            assert not event.HasField("resolve_time") and [a.subject for a in alerted.status.alerts] == ["vault"]

            vault = await start_vault(settings, vault_port)
            back = await until(stream, lambda u: service(u, "vault").state == warden_pb2.SERVING_STATE_SERVING)
            assert service(back, "vault").reconnects == 1
            assert service(back, "vault").last_change_time.ToNanoseconds() > watched.last_change_time.ToNanoseconds()
            resolved = back if back.alert_events else await until(stream, lambda u: u.alert_events)
            assert [e.subject for e in resolved.alert_events] == ["vault"]
            assert resolved.alert_events[0].HasField("resolve_time") and not resolved.status.alerts
    finally:
        await vault.stop(0.1)


class CheckOnlyHealth(health.aio.HealthServicer):
    """An older health server: Check but no Watch."""

    async def Watch(self, request, context):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Watch is not implemented")


async def test_a_server_without_watch_is_polled_with_check(tmp_path):
    server = grpc.aio.server()
    servicer = CheckOnlyHealth()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    settings = make_test_settings(
        tmp_path,
        services={"warden": {"host": "local", "port": 0}, "inference": {"host": "local", "port": port, "depends_on": []}},
        warden=WATCHED,
    )
    try:
        async with serve_for_test(settings, "warden", setup) as warden, fleet_watch(warden.address) as stream:
            polled = await until(stream, lambda u: service(u, "inference").mode == warden_pb2.PROBE_MODE_CHECK)
            assert service(polled, "inference").state == warden_pb2.SERVING_STATE_SERVING
            await servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
            changed = await until(stream, lambda u: service(u, "inference").state == warden_pb2.SERVING_STATE_NOT_SERVING)
            assert changed.status.state == warden_pb2.FLEET_STATE_OFFLINE
    finally:
        await server.stop(0)


async def test_disk_use_of_the_data_directory_with_thresholds(tmp_path):
    settings = make_test_settings(
        tmp_path, services={"warden": {"host": "local", "port": 0}},
        warden={"disk": {"warn_percent": 0.0001, "critical_percent": 100}},
    )
    async with serve_for_test(settings, "warden", setup) as warden, fleet_watch(warden.address) as stream:
        update = await until(stream, lambda u: u.status.hosts[0].disks)
        (disk,) = update.status.hosts[0].disks
        assert disk.path == str(tmp_path / "var") and disk.total_bytes > disk.free_bytes > 0
        assert disk.level == warden_pb2.DISK_LEVEL_WARN and 0 < disk.used_percent < 100
        (alert,) = update.status.alerts
        assert alert.kind == warden_pb2.ALERT_KIND_DISK_USAGE and alert.subject == str(tmp_path / "var")
