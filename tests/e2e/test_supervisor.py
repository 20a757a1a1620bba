"""`realm up` as a real process: kill -9 of one child -> restarted and SERVING; the others never stopped.

The supervisor needs fixed ports in realm.yaml: fixtures.realm_up retries a start that lost one to another process.
"""

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
from fixtures.ports import wait_for_address
from fixtures.realm_up import start_realm_up

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
    started = start_realm_up(tmp_path, lambda ports: write_config(tmp_path, SERVICES, ports, pass_env=[]),
                             SERVICES)
    up, config, before = started.process, started.config, started.services
    try:
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


def write_config(tmp_path: Path, services: list[str], ports: dict[str, int] | None = None,
                 pass_env: list[str] | None = None) -> Path:
    """Only `services` configured on this host, on `ports` (0 for the others: bound by whoever starts them)."""
    config = write_test_config(tmp_path, ports=ports)
    import yaml

    raw = yaml.safe_load(config.read_text())
    raw["services"] = {name: raw["services"][name] for name in services}
    raw["supervisor"] = {"start_timeout_seconds": 60,
                         "pass_env": ["REALM_TEST_PASSED"] if pass_env is None else pass_env}
    config.write_text(yaml.safe_dump(raw))
    return config


def start_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[19])


def environment_of(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode().split("=", 1) for e in entries if b"=" in e)


def test_kill_9_of_realm_up_leaves_no_child_and_the_next_up_starts_cleanly(tmp_path):
    env = {**os.environ, "REALM_TOKEN": "ambient-operator-token", "AWS_SECRET_ACCESS_KEY": "not-for-services",
           "REALM_TEST_PASSED": "yes", "REALM__LOGGING__LEVEL": "info"}
    started = start_realm_up(tmp_path, lambda ports: write_config(tmp_path, SERVICES, ports), SERVICES, env=env)
    up, config, first = started.process, started.config, started.services
    log = open(tmp_path / "up.log", "ab")
    again = None
    try:
        children = {name: (first[name]["pid"], start_ticks(first[name]["pid"])) for name in SERVICES}

        # Token hygiene: children get what services need, not the operator's secrets.
        child_env = environment_of(children["vault"][0])
        assert "REALM_TOKEN" not in child_env and "AWS_SECRET_ACCESS_KEY" not in child_env
        assert child_env["REALM_TEST_PASSED"] == "yes" and child_env["REALM__LOGGING__LEVEL"] == "info"
        assert "PATH" in child_env

        second = subprocess.run(realm_cmd(config, "up"), capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert second.returncode == 1
        assert f"already running (pid {up.pid})" in second.stderr + second.stdout

        up.send_signal(signal.SIGKILL)
        up.wait(10)
        wait_for(lambda: all(start_ticks(pid) != ticks for pid, ticks in children.values()), 2.0,
                 "every child of the killed supervisor gone")

        again = subprocess.Popen(realm_cmd(config, "up"), stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        restarted = wait_for(lambda: (s := all_serving(tmp_path)) and all(
            s[name]["pid"] != first[name]["pid"] for name in SERVICES) and s, 90, "the next realm up SERVING")
        assert all(restarted[name]["restarts"] == 0 for name in SERVICES)

        down = subprocess.run(realm_cmd(config, "down"), capture_output=True, text=True, timeout=90)
        assert down.returncode == 0, down.stderr
        assert again.wait(30) == 0
    finally:
        for process in (up, again):
            if process is not None and process.poll() is None:
                process.kill()
        log.close()


def test_up_stops_the_leftovers_of_a_dead_supervisor_and_names_a_foreign_port_holder(tmp_path):
    import socket

    config = write_config(tmp_path, ["vault"])  # port 0: the leftover binds one and publishes it
    # A vault left behind by a supervisor that died without its kernel-side cleanup (state file names it).
    leftover = subprocess.Popen([sys.executable, "-m", "services.vault", "--config", str(config)], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        port = wait_for_address(tmp_path / "var", "vault", leftover)["port"]  # the leftover listening there
        config = write_config(tmp_path, ["vault"], {"vault": port})  # realm up starts its vault on that port
        state = {"supervisor_pid": dead.pid, "supervisor_start_ticks": 1,
                 "services": {"vault": {"pid": leftover.pid, "start_ticks": start_ticks(leftover.pid),
                                        "state": "SERVING"}}}
        (tmp_path / "var" / "run").mkdir(parents=True, exist_ok=True)
        (tmp_path / "var" / "run" / "supervisor.json").write_text(json.dumps(state))

        log = open(tmp_path / "up.log", "wb")
        up = subprocess.Popen(realm_cmd(config, "up"), stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            services = wait_for(lambda: (s := all_serving_of(tmp_path, ["vault"])) and
                                s["vault"]["pid"] != leftover.pid and s, 90, "vault SERVING under the new up")
            assert leftover.wait(15) is not None
            assert f"stopped a leftover vault (pid {leftover.pid})" in (tmp_path / "up.log").read_text()
            assert services["vault"]["restarts"] == 0
            assert subprocess.run(realm_cmd(config, "down"), capture_output=True, timeout=90).returncode == 0
            assert up.wait(30) == 0
        finally:
            if up.poll() is None:
                up.kill()
            log.close()

        # Something that is not ours holds the port: `realm up` refuses and names it.
        with socket.socket() as holder:
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            holder.bind(("127.0.0.1", port))
            holder.listen()
            refused = subprocess.run(realm_cmd(config, "up"), capture_output=True, text=True, timeout=60,
                                     cwd=tmp_path)
        assert refused.returncode == 1
        message = " ".join((refused.stderr + refused.stdout).split())
        assert f"vault port 127.0.0.1:{port} is held by pid {os.getpid()}" in message
    finally:
        if leftover.poll() is None:
            leftover.kill()


def all_serving_of(tmp_path: Path, services: list[str]) -> dict | None:
    state = read_state(tmp_path).get("services", {})
    if set(state) >= set(services) and all(state[s]["state"] == "SERVING" for s in services):
        return state
    return None


def test_realm_down_with_nothing_running_says_so(tmp_path):
    config = write_config(tmp_path, ["vault"])
    down = subprocess.run(realm_cmd(config, "down"), capture_output=True, text=True, timeout=60)
    assert down.returncode == 0, down.stderr
    assert "no supervisor is running" in down.stdout
