"""The four role images build from docker/Dockerfile.*, start, and report every service SERVING through their
HEALTHCHECK and through `realm status` / `realm fleet` from outside.

The containers share the host's network and find each other by the fixed ports of one realm.yaml (port 0 is no
option across containers): a start where a service lost its port to another process (its log says so,
fixtures.ports) is retried with fresh ports; any other failure fails the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fixtures.ports import port_lost_in
from services.kit.ports import free_ports

pytestmark = [pytest.mark.docker, pytest.mark.slow]
TOKENS = {"REALM_ADMIN_TOKEN": "docker-test-admin-token", "REALM_READ_TOKEN": "docker-test-read-token"}
HEALTHY_TIMEOUT_S = 300
PORT_ATTEMPTS = 3


def fleet_config(path: Path) -> Path:
    """The fleet realm.yaml with every host on loopback and free ports (other realms may run on this machine)."""
    raw = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker/fleet/realm.all-in-one.yaml").read_text())
    ports = iter(free_ports(len(raw["services"]) * 2))
    for spec in raw["services"].values():
        spec["port"] = next(ports)
        if "metrics_port" in spec:
            spec["metrics_port"] = next(ports)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    path.chmod(0o644)
    return path


def docker(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(argv)}: {result.stderr}")
    return result


def health(container: str) -> dict:
    return json.loads(docker("inspect", "--format", "{{json .State.Health}}", container).stdout)


def realm_cli(config: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "realm"), "--config", str(config), *argv],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **TOKENS})


def test_role_images_start_and_every_service_reports_serving(role_images, tmp_path):
    built, sizes = role_images
    print("\nimage sizes:", json.dumps({name: f"{size / 1e9:.2f} GB" for name, size in sizes.items()}))
    assert set(built) == {"training", "inference", "storage", "control"}
    containers: list[str] = []
    try:
        lost = []
        for attempt in range(1, PORT_ATTEMPTS + 1):
            config = fleet_config(tmp_path / "realm.yaml")
            containers = start_containers(built, config, attempt)
            reason = wait_healthy(containers)
            if reason is None:
                break
            lost.append(reason)
            remove(containers)
            containers = []
        else:
            raise AssertionError(f"a service lost its port on each of {PORT_ATTEMPTS} attempts: {lost}")
        user = docker("inspect", "--format", "{{.Config.User}}", containers[0]).stdout.strip()
        assert user == "realm"
        for name in containers:
            last = health(name)["Log"][-1]
            assert last["ExitCode"] == 0 and "SERVING" in last["Output"]

        status = realm_cli(config, "status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        rows = json.loads(status.stdout)
        assert {r["service"] for r in rows} == {"trainer", "inference", "vault", "curriculum", "warden", "gateway"}
        assert all(r["state"] == "SERVING" for r in rows), rows
        fleet = realm_cli(config, "fleet", "--json")
        assert json.loads(fleet.stdout)["state"] == "ONLINE", fleet.stdout + fleet.stderr
    finally:
        remove(containers)


def start_containers(built: dict[str, str], config: Path, attempt: int) -> list[str]:
    containers = []
    try:
        for role, image in built.items():
            name = f"realm-test-{role}-{os.getpid()}-{attempt}"
            docker("run", "-d", "--name", name, "--network", "host", "--health-interval", "2s",
                   "--health-start-period", "300s", "-e", f"REALM_HOST={role}",
                   *[arg for key, value in TOKENS.items() for arg in ("-e", f"{key}={value}")],
                   "-v", f"{config}:/etc/realm/realm.yaml:ro", "-v", f"{name}-data:/var/lib/realm", image)
            containers.append(name)
    except BaseException:
        remove(containers)
        raise
    return containers


def logs_of(name: str) -> str:
    """The container's output, and the logs `realm up` writes for its children in the control container."""
    out = docker("logs", "--tail", "200", name, check=False)
    children = docker("exec", name, "sh", "-c", "cat /var/lib/realm/logs/*.log 2>/dev/null", check=False)
    return out.stdout + out.stderr + children.stdout


def wait_healthy(containers: list[str]) -> str | None:
    """None once every container is healthy; the log line of a service that lost its port; else fails."""
    deadline = time.monotonic() + HEALTHY_TIMEOUT_S
    states = {}
    while time.monotonic() < deadline:
        states = {name: health(name)["Status"] for name in containers}
        if all(s == "healthy" for s in states.values()):
            return None
        exited = [n for n in containers if docker("inspect", "--format", "{{.State.Running}}", n).stdout.strip()
                  != "true"]
        lost = next((f"{n}: {line}" for n in exited if (line := port_lost_in(logs_of(n)))), None)
        if lost is not None:
            return lost
        assert not exited, {n: docker("logs", "--tail", "40", n).stderr for n in exited}
        time.sleep(1)  # docker's health checks run on their own clock; poll their recorded result
    lost = next((f"{n}: {line}" for n in containers if (line := port_lost_in(logs_of(n)))), None)
    if lost is not None:  # e.g. a child of `realm up` in the control container, restarted and failing again
        return lost
    raise AssertionError((states, {n: health(n)["Log"][-1:] for n in containers}))


def remove(containers: list[str]) -> None:
    for name in containers:
        docker("rm", "-f", "-v", name, check=False)
        docker("volume", "rm", f"{name}-data", check=False)
