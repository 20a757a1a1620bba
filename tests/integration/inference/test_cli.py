"""`realm model …`, `realm generate` and `realm chat` against a running inference service."""

from __future__ import annotations

import io
import json
import re

import pytest

from fixtures.kit import write_test_config
from realm.cli.main import main

pytestmark = pytest.mark.integration


@pytest.fixture
def config(inference, tmp_path):
    (tmp_path / "cli").mkdir()
    return str(write_test_config(tmp_path / "cli", ports={"inference": inference.port}))


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")  # the in-process server's log lines


def cli_output(capsys) -> str:
    return "".join(line for line in capsys.readouterr().out.splitlines(keepends=True) if not LOG_LINE.match(line))


def run_json(capsys, *argv):
    assert main(list(argv)) == 0
    return json.loads(cli_output(capsys))


def test_model_commands(config, hero_dir, capsys):
    loaded = run_json(capsys, "--config", config, "model", "load", str(hero_dir), "--id", "hero", "--wait",
                      "--json")
    assert loaded["name"] == "models/hero" and loaded["state"] == "MODEL_STATE_READY"
    listed = run_json(capsys, "--config", config, "model", "ls", "--json")
    assert [m["name"] for m in listed] == ["models/hero"]
    assert run_json(capsys, "--config", config, "model", "get", "hero", "--json")["device"] == "cpu"
    assert run_json(capsys, "--config", config, "model", "unload", "hero", "--json") == {"unloaded": "models/hero"}
    assert run_json(capsys, "--config", config, "model", "ls", "--json") == []
    assert main(["--config", config, "model", "get", "hero"]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err


def test_generate_streams_and_json(config, hero_dir, capsys):
    run_json(capsys, "--config", config, "model", "load", str(hero_dir), "--id", "hero", "--wait", "--json")
    response = run_json(capsys, "--config", config, "generate", "hero", "the hero", "--max-new-tokens", "5",
                        "--json")
    assert response["summary"]["generated_tokens"] == 5
    assert main(["--config", config, "generate", "hero", "the hero", "--max-new-tokens", "5"]) == 0
    assert "5 tokens" in capsys.readouterr().err


def test_chat_reads_turns_from_stdin(config, hero_dir, capsys, monkeypatch):
    run_json(capsys, "--config", config, "model", "load", str(hero_dir), "--id", "hero", "--wait", "--json")
    monkeypatch.setattr("sys.stdin", io.StringIO("hello there\n/reset\nsecond turn\n/exit\n"))
    assert main(["--config", config, "chat", "hero", "--system", "be brief", "--max-new-tokens", "3",
                 "--json"]) == 0
    turns = [json.loads(line) for line in cli_output(capsys).splitlines()]
    assert len(turns) == 2
    assert "be brief" in turns[0]["rendered_prompt"] and "hello there" in turns[0]["rendered_prompt"]
    # /reset dropped the first exchange but kept the system message
    assert "hello there" not in turns[1]["rendered_prompt"] and "be brief" in turns[1]["rendered_prompt"]
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["--config", config, "chat", "hero", "-m", "hi", "--max-new-tokens", "2"]) == 0
