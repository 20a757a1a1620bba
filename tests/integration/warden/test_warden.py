"""The warden over real services: a real vault-less fleet where one service is up and one is down."""

import asyncio

import grpc
import pytest

from fixtures.kit import READ_TOKEN, make_test_settings, serve_for_test
from realm.warden.v1 import warden_pb2
from services.kit.ports import free_ports
from services.warden.app import setup

pytestmark = pytest.mark.integration


async def test_fleet_status_and_watch(tmp_path):
    (dead_port,) = free_ports(1)
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
