"""`realm up` as a real process: kill -9 of one child -> restarted and SERVING; the others never stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.kit import write_test_config
from services.kit.ports import free_ports

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVICES = ["vault", "warden"]


def realm_cmd(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "realm.cli.main", "--config", str(config), *args]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def read_state(tmp_path: Path) -> dict:
    try:
        return json.loads((tmp_path / "var" / "run" / "supervisor.json").read_text())
    except (OSError, ValueError):
        return {}


def all_serving(tmp_path: Path) -> dict | None:
    services = read_state(tmp_path).get("services", {})
    if set(services) >= set(SERVICES) and all(services[s]["state"] == "SERVING" for s in SERVICES):
        return services
    return None


def test_supervisor_restarts_a_killed_child_and_leaves_others_running(tmp_path):
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    config = write_test_config(tmp_path, ports=ports)
    # only the services under test are configured on this host
    text = config.read_text()
    import yaml

    raw = yaml.safe_load(text)
    raw["services"] = {name: raw["services"][name] for name in SERVICES}
    raw["supervisor"] = {"start_timeout_seconds": 60}
    config.write_text(yaml.safe_dump(raw))

    log = open(tmp_path / "up.log", "wb")
    up = subprocess.Popen(realm_cmd(config, "up"), stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        before = wait_for(lambda: all_serving(tmp_path), 90, "all services SERVING")
        victim, bystander = SERVICES
        os.kill(before[victim]["pid"], signal.SIGKILL)

        def restarted():
            services = all_serving(tmp_path)
            if services and services[victim]["pid"] != before[victim]["pid"] and services[victim]["restarts"] == 1:
                return services
            return None

        after = wait_for(restarted, 60, f"{victim} restarted and SERVING")
        assert after[bystander]["pid"] == before[bystander]["pid"]
        assert after[bystander]["restarts"] == 0

        status = subprocess.run(realm_cmd(config, "status", "--json"), capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        rows = {row["service"]: row for row in json.loads(status.stdout)}
        assert rows[victim]["state"] == "SERVING" and rows[bystander]["state"] == "SERVING"

        down = subprocess.run(realm_cmd(config, "down"), capture_output=True, text=True, timeout=90)
        assert down.returncode == 0, down.stderr
        assert up.wait(30) == 0
        state = read_state(tmp_path)
        assert all(s["state"] == "STOPPED" and s["pid"] is None for s in state["services"].values())
    finally:
        if up.poll() is None:
            up.kill()
        log.close()
