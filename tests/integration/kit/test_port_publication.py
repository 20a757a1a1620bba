"""A server on port 0 publishes the port it bound (<data_dir>/run/<name>.address.json); a client connects there.

In process and as a child process (`python -m services.<name> --port 0`), the gateway too; a clean stop removes
the publication; a port someone holds is a clear ConfigError, not a traceback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from fixtures.kit import ADMIN_TOKEN, make_test_settings, write_test_config
from fixtures.ports import wait_for_address
from realm.sdk import connect
from realm.warden.v1 import warden_pb2
from services.kit.config import ConfigError
from services.kit.ports import address_path, read_address
from services.kit.server import ServiceServer
from services.warden.app import setup as warden_setup

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


async def test_an_in_process_server_on_port_0_publishes_the_ports_it_bound(tmp_path):
    settings = make_test_settings(tmp_path)
    server = ServiceServer(settings, "warden", port=0, metrics_port=0)
    await warden_setup(server)
    port = await server.start()
    try:
        record = read_address(settings.data_dir, "warden")
        assert record == {"service": "warden", "pid": os.getpid(), "address": f"127.0.0.1:{port}", "port": port,
                          "metrics_port": server.metrics_bound_port}
        assert port == server.bound_port > 0 and server.metrics_bound_port > 0
        client = connect(addresses={"warden": record["address"]}, token=ADMIN_TOKEN).warden
        await asyncio.to_thread(client.GetFleetStatus, warden_pb2.GetFleetStatusRequest())
        metrics = await asyncio.to_thread(lambda: urllib.request.urlopen(
            f"http://127.0.0.1:{record['metrics_port']}/metrics", timeout=5).read())
        assert b"realm_rpc_total" in metrics
    finally:
        await server.stop(0.1)
    assert not address_path(settings.data_dir, "warden").exists()


async def test_a_port_someone_holds_is_a_config_error_naming_the_key(tmp_path):
    with socket.socket() as holder:  # held open and listening for the whole check: a real "in use"
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = ServiceServer(make_test_settings(tmp_path), "warden", port=port, metrics_port=False)
        with pytest.raises(ConfigError, match=rf"services\.warden\.port.*cannot bind 127\.0\.0\.1:{port}"):
            await server.start()
    assert read_address(tmp_path / "var", "warden") is None


def child(config: Path, module: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'clients'}"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", module, "--config", str(config), "--port", "0"],
                                cwd=str(REPO), env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def test_a_child_service_on_port_0_publishes_its_port_and_withdraws_it_on_stop(tmp_path):
    config = write_test_config(tmp_path)
    data_dir = tmp_path / "var"
    stale = address_path(data_dir, "warden")  # what a killed predecessor would leave behind
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text('{"service": "warden", "pid": 1, "address": "127.0.0.1:9", "port": 9}\n')
    process = child(config, "services.warden", tmp_path / "warden.log")
    try:
        record = wait_for_address(data_dir, "warden", process, log=tmp_path / "warden.log")
        assert record["pid"] == process.pid and record["address"] == f"127.0.0.1:{record['port']}"
        client = connect(addresses={"warden": record["address"]}, token=ADMIN_TOKEN).warden
        assert client.GetFleetStatus(warden_pb2.GetFleetStatusRequest()).status.total >= 0
    finally:
        code = stop(process)
    assert code == 0 and not stale.exists()


def test_the_gateway_as_a_child_on_port_0_publishes_its_port(tmp_path):
    config = write_test_config(tmp_path)
    process = child(config, "services.gateway", tmp_path / "gateway.log")
    try:
        record = wait_for_address(tmp_path / "var", "gateway", process, log=tmp_path / "gateway.log")
        assert record["pid"] == process.pid and record["port"] > 0
        with urllib.request.urlopen(f"http://{record['address']}/healthz", timeout=10) as response:
            assert response.status == 200
    finally:
        code = stop(process)
    assert code == 0 and read_address(tmp_path / "var", "gateway") is None

