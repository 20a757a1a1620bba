"""Three hosts (plus a control host) on one machine, each service bound to its host's address in its own network
namespace; a campaign runs across them; the storage host's link is cut and restored (tests/fleet/scenario.py).
Once with the services as plain processes, once as the role images."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.heroes import build_test_hero
from realm.settings import load_settings

sys.path.insert(0, str(Path(__file__).parent))
import netns  # noqa: E402
from scenario import PLACEMENT, exercise_partition, wait_until_serving, write_fleet_config, write_hero_file  # noqa: E402

HOSTS = ["training", "inference", "storage", "control"]
pytestmark = [pytest.mark.fleet, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_hero(tmp_path_factory) -> Path:
    return build_test_hero(tmp_path_factory.mktemp("hero") / "tiny")


def stop_all(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, 15)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(10)


def test_campaign_across_hosts_survives_a_storage_partition(netns_fleet, tmp_path, tiny_hero):
    heroes = write_hero_file(tmp_path / "heroes", str(tiny_hero))
    config = write_fleet_config(tmp_path / "realm.yaml", netns_fleet, data_dir=str(tmp_path / "var"),
                                heroes_dir=str(heroes))
    settings = load_settings(config)
    processes: list[subprocess.Popen] = []
    try:
        for name in PLACEMENT:  # dependency order
            host = netns_fleet.hosts[PLACEMENT[name]]
            with open(tmp_path / f"{name}.log", "wb") as log:
                processes.append(subprocess.Popen(
                    [*host.exec_prefix(), sys.executable, "-m", f"services.{name}", "--config", str(config)],
                    stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
                    env={**os.environ, "REALM_HOST": host.name}, start_new_session=True))
            wait_until_serving(settings, [name], "plain process")
        exercise_partition(netns_fleet, config)
    finally:
        stop_all(processes)


# ---- the same fleet as containers -------------------------------------------------------------------------
# A container cannot join a named namespace, so each one starts with no network at all; its namespace is then
# named after its host (`ip netns attach`) and gets the host's veth and 198.18.0.x address. Like --network host
# on a real box, the container sees exactly its host's interfaces: no bridge, no private container address.
WAIT_FOR_ADDRESS = (
    "import os, socket, sys, time, yaml\n"
    "raw = yaml.safe_load(open(os.environ['REALM_CONFIG']))\n"
    "address = raw['hosts'][os.environ['REALM_HOST']]['address']\n"
    "while True:\n"
    "    try:\n"
    "        socket.socket().bind((address, 0)); break\n"
    "    except OSError:\n"
    "        time.sleep(0.1)\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)
ROLE_COMMAND = {"training": ["python", "-m", "services.trainer"], "inference": ["python", "-m", "services.inference"],
                "storage": ["python", "-m", "services.vault"], "control": ["realm", "up"]}


def docker(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(argv)}: {result.stderr}")
    return result


@pytest.fixture
def container_fleet(role_images, tmp_path, tiny_hero):
    """The four role images, each in its host's namespace; containers, namespaces and links removed afterwards."""
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(f"fleet test needs network namespaces: {reason}")
    built, _ = role_images
    placeholder = netns.NetnsFleet(hosts={h: netns.Host(h, f"{netns.SUBNET}.{i}", "") for i, h in
                                          enumerate(HOSTS, start=1)})
    heroes = write_hero_file(tmp_path / "heroes", "/models/tiny")
    # The services run as the image's non-root user: give them a world-readable copy of the hero.
    models = tmp_path / "models" / "tiny"
    shutil.copytree(tiny_hero, models)
    for path in [models, *models.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    inside = write_fleet_config(tmp_path / "realm.container.yaml", placeholder, data_dir="/var/lib/realm",
                                heroes_dir="/heroes")
    outside = write_fleet_config(tmp_path / "realm.yaml", placeholder, data_dir=str(tmp_path / "var"),
                                 heroes_dir=str(heroes))
    tag = str(os.getpid() % 100000)
    containers, fleet = [], None
    try:
        pids = {}
        for role in HOSTS:
            name = f"realm-fleet-{role}-{tag}"
            docker("run", "-d", "--name", name, "--network", "none", "-e", f"REALM_HOST={role}",
                   "-v", f"{inside}:/etc/realm/realm.yaml:ro", "-v", f"{heroes}:/heroes:ro",
                   "-v", f"{models}:/models/tiny:ro", "-v", f"{name}-data:/var/lib/realm",
                   "--entrypoint", "python", built[role], "-c", WAIT_FOR_ADDRESS, *ROLE_COMMAND[role])
            containers.append(name)
            pids[role] = int(docker("inspect", "--format", "{{.State.Pid}}", name).stdout)
        fleet = netns.create(HOSTS, tag=tag, attach=pids)
        yield fleet, outside, containers
    finally:
        for name in containers:
            if docker("inspect", name, check=False).returncode == 0:
                print(f"--- {name}\n" + docker("logs", "--tail", "15", name, check=False).stderr[-3000:])
            docker("rm", "-f", "-v", name, check=False)
            docker("volume", "rm", f"{name}-data", check=False)
        leftovers = fleet.remove() if fleet else []
        assert not leftovers, f"could not remove {leftovers}"


@pytest.mark.docker
@pytest.mark.skipif(os.environ.get("REALM_FLEET_CONTAINERS") != "1",
                    reason="opt-in (about 5 min on 2 cores, beyond the default `make test` budget): "
                           "REALM_FLEET_CONTAINERS=1, or `make test-fleet`")
def test_the_role_images_survive_a_storage_partition(container_fleet):
    fleet, config, containers = container_fleet
    settings = load_settings(config)
    wait_until_serving(settings, ["vault", "inference", "curriculum", "trainer", "warden"], "container")
    figures = exercise_partition(fleet, config)
    print("containers:", json.dumps(figures))
