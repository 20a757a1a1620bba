"""Every service exposes Prometheus metrics (RPC count, latency, in-flight) on its configured HTTP port."""

import asyncio
import urllib.request

import pytest

from fixtures.kit import ADMIN_TOKEN, make_test_settings
from realm.warden.v1 import warden_pb2
from services.kit.server import ServiceServer
from services.warden.app import setup

pytestmark = pytest.mark.integration


async def test_metrics_port_serves_rpc_counters(tmp_path):
    settings = make_test_settings(tmp_path)
    server = ServiceServer(settings, "warden", port=0, metrics_port=0)  # both read back after bind
    await setup(server)
    await server.start()
    metrics_port = server.metrics_bound_port
    assert metrics_port
    try:
        from realm.sdk import connect

        client = connect(addresses={"warden": f"127.0.0.1:{server.bound_port}"}, token=ADMIN_TOKEN).warden
        await asyncio.to_thread(client.GetFleetStatus, warden_pb2.GetFleetStatusRequest())
        body = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        )
    finally:
        await server.stop(0.5)
    assert 'realm_rpc_total{code="OK",method="GetFleetStatus",service="warden"}' in body
    assert "realm_rpc_duration_seconds_bucket" in body
    assert "realm_rpc_in_flight" in body
