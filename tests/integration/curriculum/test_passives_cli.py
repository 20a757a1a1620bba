"""`realm curriculum passives CAMPAIGN --json` against a running curriculum service (a campaign with no
measurements yet: its passive sets, no base model)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from fixtures.kit import write_test_config
from realm.cli.main import main

pytestmark = pytest.mark.integration
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


async def test_passives_report_from_the_cli(curriculum, tmp_path, capsys):
    (tmp_path / "cli").mkdir()
    config = str(write_test_config(tmp_path / "cli", ports={"curriculum": curriculum.port}))
    argv = ["--config", config, "curriculum", "configure", "c1", "--skill", "bin"]
    assert await asyncio.to_thread(main, argv) == 0
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["--config", config, "curriculum", "passives", "c1", "--json"]) == 0
    out = "".join(line for line in capsys.readouterr().out.splitlines(keepends=True) if not LOG_LINE.match(line))
    report = json.loads(out)
    assert report["campaign"] == "campaigns/c1" and report["sets"] == ["syllo/1", "syllo/2"]
    assert "base_model" not in report and "results" not in report
