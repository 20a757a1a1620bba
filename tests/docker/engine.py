"""A docker engine for the tests: the running one, or a dockerd started (and stopped) by the test session.

The engine runs without a bridge (`--bridge=none --iptables=false`): containers use the host's network only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

START_TIMEOUT_S = 60


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
