"""`realm task run|ls|status|cancel` against a running inference service."""

from __future__ import annotations

import json
import re

import pytest

from fixtures.kit import write_test_config
from realm.cli.main import main

pytestmark = pytest.mark.integration
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


@pytest.fixture
def config(inference, tmp_path):
    (tmp_path / "cli").mkdir()
    return str(write_test_config(tmp_path / "cli", ports={"inference": inference.port}))


def run_json(capsys, *argv):
    assert main(list(argv)) == 0
    out = "".join(line for line in capsys.readouterr().out.splitlines(keepends=True) if not LOG_LINE.match(line))
    return json.loads(out)


def test_task_commands(config, capsys):
    created = run_json(capsys, "--config", config, "task", "run", "passives", "-p", "campaign=c1",
                       "-p", "checkpoint=assets/abc", "--priority", "70", "--id", "cli-1", "--json")
    assert created["name"] == "tasks/cli-1" and created["state"] == "queued" and created["priority"] == 70
    listed = run_json(capsys, "--config", config, "task", "ls", "--state", "queued", "--json")
    assert [t["name"] for t in listed["tasks"]] == ["tasks/cli-1"] and listed["scheduler"]["idle"] is True
    shown = run_json(capsys, "--config", config, "task", "status", "cli-1", "--json")
    assert shown["parameters"] == {"campaign": "c1", "checkpoint": "assets/abc"}
    scheduler = run_json(capsys, "--config", config, "task", "status", "--json")
    assert scheduler["max_interactive_delay_seconds"] == 2.0
    assert run_json(capsys, "--config", config, "task", "cancel", "cli-1", "--json")["state"] == "cancelled"
    assert main(["--config", config, "task", "run", "eval", "-p", "novalue"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["--config", config, "task", "status", "missing"]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err
