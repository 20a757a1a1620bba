"""`realm vault ...` end to end against a real server, through main() with --json output."""

from __future__ import annotations

import json
import re

import pytest

from fixtures.kit import ADMIN_TOKEN, write_test_config
from realm.cli.main import main

pytestmark = pytest.mark.integration
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


@pytest.fixture
def cli(vault_server, tmp_path, capsys):
    (tmp_path / "cli").mkdir()
    config = write_test_config(tmp_path / "cli", ports={"vault": vault_server.running.port})

    def run(*argv: str, expect: int = 0):
        capsys.readouterr()
        code = main(["--config", str(config), "--token", ADMIN_TOKEN, "vault", *argv])
        # The in-process server logs to the same stdout: keep only the CLI's own lines.
        out = "\n".join(line for line in capsys.readouterr().out.splitlines() if not LOG_LINE.match(line))
        assert code == expect, out
        return json.loads(out) if "--json" in argv else out

    return run


def test_cli_covers_the_vault(cli, tmp_path, tree):
    src = tree(tmp_path / "ckpt", {"model.bin": b"w" * 5000, "config.json": b"{}"})
    pushed = cli("push", str(src), "--kind", "checkpoint", "--campaign", "c1", "--step", "7", "--label", "run=a",
                 "--json")
    name = pushed["name"]
    assert pushed["state"] == "ASSET_STATE_ACTIVE" and pushed["labels"] == {"run": "a"}
    listed = cli("ls", "--campaign", "c1", "--json")
    assert [a["name"] for a in listed["assets"]] == [name]
    assert cli("show", "campaigns/c1/aliases/latest", "--json")["name"] == name
    pulled = cli("pull", name, str(tmp_path / "out"), "--json")
    assert (tmp_path / "out" / "model.bin").read_bytes() == b"w" * 5000 and pulled["files"] == 2
    moved = cli("alias", "set", "campaigns/c1/aliases/best/bin", name, "--metric", "accuracy", "--value", "0.7",
                "--direction", "max", "--only-if-better", "--json")
    assert moved["moved"]
    assert {a["name"] for a in cli("alias", "ls", "campaigns/c1", "--json")} == {
        "campaigns/c1/aliases/latest", "campaigns/c1/aliases/best/bin"}
    assert cli("pin", name, "--note", "keep", "--json")["pinned"]
    assert "pinned" not in cli("unpin", name, "--json")
    cli("policy", "campaigns/c1", "--set", "--keep-latest", "1", "--json")
    assert cli("policy", "campaigns/c1", "--json")["keep_latest"] == 1
    plan = cli("gc", "--dry-run", "--json")
    assert plan["dry_run"] and plan["decisions"][0]["keep"]
    assert cli("verify", name, "--json")["ok"]
    stats = cli("stats", "--json")
    assert stats["total"]["assets"] == "1" and stats["total"]["stored_bytes"] == "5002"
    ledger = cli("ledger", "--json")
    assert [e["sequence"] for e in ledger] == [str(i) for i in range(1, len(ledger) + 1)]
    table = cli("ls")
    assert "name" in table and "state" in table  # a human table (cells may be cut to the terminal width)
    cli("rm", name, expect=1)  # refused while aliased: the RPC error becomes exit code 1
    assert cli("rm", name, "--force", "--json")["state"] == "ASSET_STATE_DELETED"
