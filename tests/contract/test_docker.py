"""Docker files checked statically (no engine needed): sources exist, commands name real modules, the roles share
their common layers, nothing bakes a CA, compose files mount the config read-only, the fleet configs parse."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

from services.kit.config import settings_from_dict

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
ROLES = ("training", "inference", "storage", "control")
HOST_SERVICES = {"training": {"trainer"}, "inference": {"inference"}, "storage": {"vault"},
                 "control": {"gateway", "curriculum", "warden"}}
TOKENS = {"REALM_ADMIN_TOKEN": "x" * 32, "REALM_READ_TOKEN": "y" * 32}


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


def shared_prefix(text: str) -> str:
    return text.split("# ---- role:")[0].split("\n", 1)[1]  # past the one-line role description


@pytest.mark.parametrize("role", ROLES)
def test_dockerfile_copies_existing_paths_and_runs_a_real_entry_point(role):
    steps = instructions(DOCKER / f"Dockerfile.{role}")
    assert steps[0][0] == "ARG" and steps[1] == ("FROM", "${BASE_IMAGE}")
    for keyword, rest in steps:
        if keyword == "COPY":
            *sources, _ = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source} does not exist"
    cmd = json.loads(next(rest for keyword, rest in steps if keyword == "CMD"))
    if cmd[:2] == ["python", "-m"]:
        assert importlib.util.find_spec(cmd[2]) is not None, cmd
    else:
        assert cmd == ["realm", "up"] and role == "control"
    args = {rest.split("=", 1)[0]: rest.split("=", 1)[1] if "=" in rest else "" for k, rest in steps if k == "ARG"}
    assert args["TORCH_SPEC"] == "torch==2.13.0" and "cu1" in args["TORCH_INDEX_URL"], "production = CUDA torch"
    assert ("USER", "realm") in steps and ("VOLUME", '["/var/lib/realm"]') in steps
    healthcheck = next(rest for keyword, rest in steps if keyword == "HEALTHCHECK")
    assert "/opt/realm/docker/healthcheck.py" in healthcheck
    env = " ".join(rest for keyword, rest in steps if keyword == "ENV")
    assert f"REALM_HOST={role}" in env and "REALM_CONFIG=/etc/realm/realm.yaml" in env
    if role == "training":
        assert "bitsandbytes" in args["EXTRA_PACKAGES"] and "liger-kernel" in args["EXTRA_PACKAGES"]


def test_roles_share_their_common_layers():
    prefixes = {role: shared_prefix((DOCKER / f"Dockerfile.{role}").read_text()) for role in ROLES}
    assert len(set(prefixes.values())) == 1, "keep the part above '# ---- role:' identical in every Dockerfile"


@pytest.mark.parametrize("role", ROLES)
def test_no_certificate_is_baked_into_an_image(role):
    text = (DOCKER / f"Dockerfile.{role}").read_text()
    for keyword, rest in instructions(DOCKER / f"Dockerfile.{role}"):
        if keyword in ("COPY", "ADD"):
            assert not re.search(r"\.(crt|pem)\b|cert", rest), rest
    assert "--mount=type=secret,id=ca" in text  # the proxy CA only ever arrives as a build secret
    ignore = [line for line in (DOCKER / f"Dockerfile.{role}.dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*" and "!.venv" not in ignore, "the build context is an allow-list"


@pytest.mark.parametrize("name", [*(f"compose.{role}.yaml" for role in ROLES), "compose.yaml"])
def test_compose_files_use_host_network_read_only_config_and_a_volume(name):
    compose = yaml.safe_load((DOCKER / name).read_text())
    services = compose["services"]
    expected = ROLES if name == "compose.yaml" else (name.split(".")[1],)
    assert set(services) == {f"realm-{role}" for role in expected}
    for role in expected:
        service = services[f"realm-{role}"]
        assert (ROOT / service["build"]["dockerfile"]).exists()
        assert service["image"] == f"realm/{role}:latest" and service["network_mode"] == "host"
        assert service["environment"]["REALM_HOST"] == role and "ports" not in service
        config, data = service["volumes"][:2]
        source, target, mode = config.split(":")
        assert (DOCKER / source).is_file() and target == "/etc/realm/realm.yaml" and mode == "ro"
        assert data.split(":")[0] in compose["volumes"] and data.split(":")[1] == "/var/lib/realm"


@pytest.mark.parametrize("name", ["realm.yaml", "realm.all-in-one.yaml"])
def test_fleet_configs_are_valid_and_place_every_service_on_its_role_host(name):
    raw = yaml.safe_load((DOCKER / "fleet" / name).read_text())
    settings = settings_from_dict(raw, root=DOCKER / "fleet", env=TOKENS)
    assert set(settings.hosts) == set(ROLES)
    for host, services in HOST_SERVICES.items():
        assert {s.name for s in settings.services_on_host(host)} == services
