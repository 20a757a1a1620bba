import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "docker"))
import netns  # noqa: E402
from engine import docker_engine, role_images  # noqa: E402,F401  (fixtures for the container fleet test)

HOSTS = ["training", "inference", "storage", "control"]


@pytest.fixture
def netns_fleet():
    """Four hosts in network namespaces; every namespace and link is removed afterwards, also on failure."""
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(f"fleet test needs network namespaces: {reason}")
    fleet = netns.create(HOSTS, tag=str(os.getpid() % 100000))
    try:
        yield fleet
    finally:
        leftovers = fleet.remove()
        assert not leftovers, f"could not remove {leftovers}"
