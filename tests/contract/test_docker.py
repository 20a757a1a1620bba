"""Docker files are checked statically (no engine here): sources exist, commands name real modules, configs parse."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from services.kit.config import settings_from_dict

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
ROLES = ("training", "inference", "storage")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    lines, current = [], ""
    for raw in dockerfile.read_text().splitlines():
        if raw.strip().startswith("#") or not raw.strip():
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.rstrip().endswith("\\"):
            keyword, _, rest = current.strip().partition(" ")
            lines.append((keyword.upper(), rest))
            current = ""
    return lines


@pytest.mark.parametrize("role", ROLES)
def test_dockerfile_copies_existing_paths_and_runs_a_real_entry_point(role):
    steps = instructions(DOCKER / f"Dockerfile.{role}")
    assert steps[0][0] == "FROM"
    for keyword, rest in steps:
        if keyword == "COPY":
            *sources, _ = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source} does not exist"
    cmd = json.loads(next(rest for keyword, rest in steps if keyword == "CMD"))
    if cmd[:2] == ["python", "-m"]:
        assert importlib.util.find_spec(cmd[2]) is not None, cmd
    else:
        assert cmd[0] == "realm"
    torch_lines = [rest for keyword, rest in steps if keyword == "RUN" and "torch==" in rest]
    assert torch_lines and all("torch==2.13.0" in line for line in torch_lines)
    if role != "storage":
        assert any("cu1" in line for line in torch_lines), "GPU hosts use the CUDA build of torch"


@pytest.mark.parametrize("role", ROLES)
def test_compose_file_builds_its_dockerfile(role):
    compose = yaml.safe_load((DOCKER / f"compose.{role}.yaml").read_text())
    service = compose["services"][f"realm-{role}"]
    assert (ROOT / service["build"]["dockerfile"]).exists()
    assert service["environment"]["REALM_HOST"] == role
    for volume in service["volumes"]:
        name = volume.split(":")[0]
        assert name.startswith(("./", "/")) or name in compose["volumes"]


def test_fleet_config_is_valid_and_places_every_service():
    raw = yaml.safe_load((DOCKER / "fleet" / "realm.yaml").read_text())
    settings = settings_from_dict(raw, root=DOCKER / "fleet",
                                  env={"REALM_ADMIN_TOKEN": "x" * 32, "REALM_READ_TOKEN": "y" * 32})
    assert {s.host for s in settings.services.values()} == set(ROLES)
    assert settings.services_on_host("storage")
