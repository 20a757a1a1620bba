"""A docker engine for the tests: the running one, or a dockerd started (and stopped) by the test session.

The engine runs without a bridge (`--bridge=none --iptables=false`): containers use the host's network only.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

START_TIMEOUT_S = 60
ROOT = Path(__file__).resolve().parents[2]


def engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                              timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def start_engine(log_path: Path) -> subprocess.Popen | None:
    """None when an engine already answers; else the dockerd we started. Skips when none can start."""
    if engine_answers():
        return None
    if not shutil.which("docker"):
        pytest.skip("no docker CLI (apt-get install docker.io)")
    if not shutil.which("dockerd"):
        pytest.skip("no docker engine (apt-get install docker.io)")
    if os.geteuid() != 0:
        pytest.skip("no docker engine running, and starting dockerd needs root")
    log = log_path.open("ab")
    process = subprocess.Popen(["dockerd", "--bridge=none", "--iptables=false"], stdout=log, stderr=log,
                               start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.skip(f"dockerd exited with {process.returncode}; see {log_path}")
        if engine_answers():
            return process
        time.sleep(0.5)  # readiness poll of an external daemon: there is no event to wait on
    process.terminate()
    pytest.skip(f"dockerd did not answer within {START_TIMEOUT_S} s; see {log_path}")


def stop_engine(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)



def load_images_module():
    spec = importlib.util.spec_from_file_location("realm_docker_images", ROOT / "docker" / "images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory):
    process = start_engine(tmp_path_factory.mktemp("dockerd") / "dockerd.log")
    yield
    stop_engine(process)


@pytest.fixture(scope="session")
def role_images(docker_engine):
    """The four role images (CPU profile), built once per session; docker's layer cache makes rebuilds cheap."""
    images = load_images_module()
    if not images.shutil.which("debootstrap") and not images.image_exists(images.LOCAL_BASE):
        pytest.skip("debootstrap is not installed (apt-get install debootstrap) and no local base image exists")
    try:
        args = images.build_args("cpu")
        built = {role: images.build(role, "cpu", "latest", args, quiet=True) for role in images.ROLES}
    except images.BuildError as exc:
        pytest.fail(str(exc))
    return built, images.sizes()
