"""`realm skill|dataset|curriculum` against a real curriculum server."""

from __future__ import annotations

import asyncio
import json

import pytest

from fixtures.kit import make_test_settings, serve_for_test, write_test_config
from realm.cli.main import main
from services.curriculum.app import setup
from services.kit.logs import configure_logging

pytestmark = pytest.mark.integration


@pytest.fixture
async def cli(tmp_path, capsys):
    configure_logging(level="warning", fmt="json")  # server logs to stderr, so stdout is the CLI's alone
    settings = make_test_settings(tmp_path / "server", curriculum={"eval_window": 1})
    async with serve_for_test(settings, "curriculum", setup) as running:
        config = write_test_config(tmp_path, ports={"curriculum": running.port})

        async def run(*argv: str) -> tuple[int, str]:
            capsys.readouterr()
            code = await asyncio.to_thread(main, ["--config", str(config), *argv])
            return code, capsys.readouterr().out

        yield run


async def test_skill_commands(cli, tmp_path):
    code, out = await cli("skill", "ls", "--json")
    assert code == 0 and [s["name"] for s in json.loads(out)] == ["skills/bin", "skills/syllo"]
    code, out = await cli("skill", "show", "bin")
    assert code == 0 and "32-bit" in out and "exhaustive" in out
    code, out = await cli("skill", "generate", "bin", "--level", "1", "--count", "5", "--seed", "3")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 5 and json.loads(lines[0])["metadata"]["skill"] == "bin"
    code, again = await cli("skill", "generate", "bin", "--level", "1", "--count", "5", "--seed", "3")
    assert again == out
    target = tmp_path / "q.jsonl"
    code, out = await cli("skill", "generate", "syllo", "--level", "2", "--count", "4", "--seed", "1",
                          "-o", str(target), "--json")
    assert code == 0 and json.loads(out)["rows"] == 4 and (tmp_path / "q.jsonl.meta.json").exists()
    code, out = await cli("skill", "generate", "bin", "--level", "3", "--count", "20", "--seed", "3",
                          "--review-share", "0.5")
    levels = [json.loads(line)["metadata"]["level"] for line in out.strip().splitlines()]
    assert code == 0 and len(levels) == 20 and levels.count(3) == 10 and set(levels) == {1, 2, 3}
    code, out = await cli("skill", "evalset", "syllo", "2", "--json")
    data = json.loads(out)
    assert code == 0 and len(data["problems"]) == 50 and data["regime"] == "REGIME_HELD_OUT"
    responses = tmp_path / "responses.jsonl"
    responses.write_text("\n".join(json.dumps({"id": p["id"], "response": p["expected"] if i % 2 else "no"})
                                   for i, p in enumerate(data["problems"][:10])))
    code, out = await cli("skill", "grade", "syllo", "2", str(responses), "--json")
    graded = json.loads(out)
    assert code == 0 and graded["accuracy"] == 0.5
    assert [r.get("correct", False) for r in graded["results"]] == [False, True] * 5


async def test_dataset_validate(cli, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n')
    code, out = await cli("dataset", "validate", str(good), "--schema", "chat_sft_v1", "--level", "deep", "--json")
    assert code == 0 and json.loads(out)["accepted"] is True
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good.read_text() + '{"messages": [{"role": "robot", "content": "x"}]}\n')
    code, out = await cli("dataset", "validate", str(bad), "--schema", "chat_sft_v1")
    assert code == 1 and "rejected" in out and "unknown_role" in out
    code, out = await cli("dataset", "validate", str(good), "--json")  # no schema, no sidecar: denied
    assert code == 1 and json.loads(out)["findings"][0]["kind"] == "missing_schema"


async def test_curriculum_commands(cli):
    code, out = await cli("curriculum", "configure", "gamma", "--skill", "bin", "--skill", "syllo:3:2", "--json")
    assert code == 0
    code, out = await cli("curriculum", "record-eval", "gamma", "bin", "1", "0.95", "--checkpoint", "assets/x")
    assert code == 0 and "leveled up" in out
    code, out = await cli("curriculum", "progress", "gamma", "--json")
    skills = {s["skill"]: s for s in json.loads(out)["skills"]}
    assert skills["skills/bin"]["mastered_level"] == 1 and skills["skills/syllo"]["training_level"] == 3
    code, out = await cli("curriculum", "plan", "gamma", "--preset", "weighted", "--count", "30", "--json")
    assert [(b["skill"], b["level"], b["count"], b["review_share"]) for b in json.loads(out)] == \
        [("skills/bin", 2, 10, 0.2), ("skills/syllo", 3, 20, 0.2)]
    code, out = await cli("curriculum", "progress", "gamma", "--history")
    assert code == 0 and "assets/x" in out


async def test_evaluate_reports_an_unreachable_inference_service(cli):
    code, out = await cli("curriculum", "evaluate", "delta", "assets/x", "--skill", "bin", "--watch", "--json")
    ev = json.loads(out)
    # Inference is down: the trial is not failed but queued for a retry, and --watch says so.
    assert code == 1 and ev["state"] == "EVALUATION_STATE_PENDING" and "UNAVAILABLE" in ev["error"]
    assert ev["attempts"] >= 1 and ev["next_attempt_time"]
    code, out = await cli("curriculum", "evaluations", "delta", "--json")
    assert code == 0 and [e["name"] for e in json.loads(out)] == [ev["name"]]
    code, out = await cli("curriculum", "evaluation", ev["name"])
    assert code == 0 and "retrying" in out
