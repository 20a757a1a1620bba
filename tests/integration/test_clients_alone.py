"""The clients package installs alone — fresh venv, `pip install ./clients`, no torch, no services — and there
the SDK imports and the user commands work against real services (vault, curriculum, trainer on port 0)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fixtures.kit import ADMIN_TOKEN, config_dict_for_tests, serve_for_test
from services.kit.config import settings_from_dict

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clients_venv(tmp_path_factory) -> Path:
    """A venv holding only `pip install ./clients` (from a copy: the build leaves nothing in the tree)."""
    base = tmp_path_factory.mktemp("clients-alone")
    source = base / "clients"
    shutil.copytree(ROOT / "clients", source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                              str(source)], capture_output=True, text=True, timeout=900, env=clean_env())
    assert install.returncode == 0, install.stdout + install.stderr
    return venv


def clean_env() -> dict[str, str]:
    """No PYTHONPATH and no ambient token: the venv sees only what it installed."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "REALM_TOKEN", "REALM_CONFIG")}


def run_in(venv: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=clean_env())


@pytest.mark.parametrize("module,importable", [
    ("realm.sdk", True), ("realm.cli.main", True), ("realm.settings", True),
    ("services", False), ("realm_ops", False), ("torch", False), ("transformers", False),
])
def test_the_clients_venv_has_the_sdk_and_nothing_else(clients_venv, tmp_path, module, importable):
    result = run_in(clients_venv, "python", "-c", f"import {module}", cwd=tmp_path)
    assert (result.returncode == 0) == importable, result.stderr
    if not importable:
        assert "ModuleNotFoundError" in result.stderr


def test_a_clients_only_realm_has_the_user_commands_and_no_ops_commands(clients_venv, tmp_path):
    result = run_in(clients_venv, "realm", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("vault", "quest", "campaign", "status"):
        assert command in result.stdout
    for ops_command in ("up", "down", "play"):
        assert f"    {ops_command} " not in result.stdout


async def cli(venv: Path, config: Path, *argv: str) -> tuple[int, str, str]:
    """The venv's `realm`, awaited: the in-process servers keep serving on this event loop meanwhile."""
    process = await asyncio.create_subprocess_exec(
        str(venv / "bin" / "realm"), "--config", str(config), *argv, cwd=config.parent, env=clean_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


async def test_vault_and_quest_commands_work_against_running_services(clients_venv, tmp_path):
    from services.trainer.app import setup as trainer_setup
    from services.vault.app import setup as vault_setup

    heroes = tmp_path / "heroes"
    heroes.mkdir()
    raw = config_dict_for_tests(tmp_path / "var", trainer={"heroes_dir": str(heroes)})
    async with serve_for_test(settings_from_dict(raw, root=tmp_path, env={}), "vault", vault_setup) as vault:
        raw["services"]["vault"]["port"] = vault.port  # the trainer dials the vault where it really listens
        async with serve_for_test(settings_from_dict(raw, root=tmp_path, env={}), "trainer", trainer_setup) as trainer:
            raw["services"]["trainer"]["port"] = trainer.port
            await exercise_the_cli(clients_venv, tmp_path, raw)


async def exercise_the_cli(clients_venv: Path, tmp_path: Path, raw: dict) -> None:
    config = tmp_path / "client" / "realm.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump(raw))
    dataset = tmp_path / "client" / "quest.jsonl"
    dataset.write_text(json.dumps({"messages": [{"role": "user", "content": "1+1"},
                                                {"role": "assistant", "content": "2"}]}) + "\n")

    code, out, err = await cli(clients_venv, config, "vault", "push", str(dataset), "--kind", "dataset",
                               "--json")
    assert code == 0, err
    pushed = json.loads(out)

    code, out, err = await cli(clients_venv, config, "vault", "ls", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert [a["name"] for a in listed["assets"]] == [pushed["name"]]

    code, out, err = await cli(clients_venv, config, "quest", "ls", "--json")
    assert code == 0, err
    assert json.loads(out) == []

    code, out, err = await cli(clients_venv, config, "--token", "wrong-token-123", "vault", "ls", "--json")
    assert code == 1 and "UNAUTHENTICATED" in err
    assert ADMIN_TOKEN in config.read_text()  # without --token the CLI used the config's client token
