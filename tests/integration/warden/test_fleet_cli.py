"""`realm fleet` and `realm status` over a real warden watching a real service."""

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from fixtures.kit import with_ports, write_settings, write_test_config
from fixtures.ports import refusing_port
from services.kit.config import load_settings
from services.kit.server import ServiceServer
from services.warden.app import setup as warden_setup

pytestmark = pytest.mark.integration


async def realm(config: Path, *argv: str) -> tuple[int, str]:
    """The `realm` CLI as its own process (its stdout is then only its own)."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "realm"), "--config", str(config), *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "COLUMNS": "160"})
    out, err = await process.communicate()
    assert process.returncode in (0, 3), err.decode()
    return process.returncode, out.decode()


async def test_fleet_and_status_show_the_wardens_view(tmp_path):
    with refusing_port() as dead_port:  # the curriculum is down: nothing listens there while the test runs
        await check_fleet_and_status(tmp_path, dead_port)


async def check_fleet_and_status(tmp_path: Path, dead_port: int) -> None:
    config = write_test_config(tmp_path, ports={"curriculum": dead_port})
    raw = config.read_text()
    # Only three services in this fleet: the vault (up), the curriculum (down) and the warden.
    for name in ("inference", "trainer", "gateway"):
        raw = raw.replace(f"  {name}:\n    host: local\n    port: 0\n", "")
    config.write_text(raw)
    settings = load_settings(config)
    assert set(settings.services) == {"vault", "curriculum", "warden"}

    # Port 0 each, in order: the warden watches the vault where it listens; the CLI's realm.yaml names both.
    vault = ServiceServer(settings, "vault", metrics_port=False)
    await vault.prepare()
    settings = with_ports(settings, {"vault": await vault.start()})
    warden = ServiceServer(settings, "warden", metrics_port=False)
    await warden.prepare()
    await warden_setup(warden)
    write_settings(with_ports(settings, {"warden": await warden.start()}), config)
    try:
        code, out = await realm(config, "fleet", "--json")
        fleet = json.loads(out)
        assert code == 3
        assert fleet["state"] == "DEGRADED" and fleet["serving"] == 1 and fleet["total"] == 2
        services = {s["service"]: s for s in fleet["services"]}
        assert services["vault"]["state"] == "SERVING" and services["vault"]["mode"] == "WATCH"
        assert services["curriculum"]["state"] == "UNREACHABLE" and services["curriculum"]["since"]
        assert [h["state"] for h in fleet["hosts"]] == ["DEGRADED"]
        assert fleet["disks"] and fleet["disks"][0]["level"] == "OK"

        code, out = await realm(config, "status", "--json")
        rows = {row["service"]: row for row in json.loads(out)}
        assert code == 3
        assert rows["vault"]["state"] == "SERVING" and rows["vault"]["warden_state"] == "SERVING"
        assert rows["curriculum"]["warden_state"] == "UNREACHABLE" and rows["warden"]["warden_state"] is None

        code, human = await realm(config, "fleet")
        assert "fleet DEGRADED" in human and "curriculum" in human
    finally:
        await warden.stop(0.1)
        await vault.stop(0.1)
