"""The curriculum service end to end over gRPC: every RPC through the SDK against a real server."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest

from fixtures.kit import READ_TOKEN
from realm.curriculum.v1 import curriculum_pb2 as pb
from services.curriculum.skills.base import (
    eval_set,
    generate_problems,
    rows_to_jsonl,
    training_row,
)
from services.curriculum.skills.registry import default_registry

pytestmark = pytest.mark.integration


async def call(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


async def test_skills_and_eval_sets(curriculum):
    c = curriculum.connect().curriculum
    skills = await call(c.skills)
    assert [s.name for s in skills] == ["skills/bin", "skills/syllo"]
    bin_skill = await call(c.skill, "bin")
    assert len(bin_skill.levels) == 30 and bin_skill.levels[0].regime == pb.REGIME_EXHAUSTIVE
    assert bin_skill.levels[0].problem_space_size == 145 and bin_skill.levels[29].parameters["bits"] == "32"
    es = await call(c.eval_set, "bin", 4)
    assert len(es.problems) == 50 and es.regime == pb.REGIME_HELD_OUT
    assert es.content_hash == eval_set(default_registry().get("bin"), 4).content_hash
    with pytest.raises(grpc.RpcError) as err:
        await call(c.skill, "chess")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_generate_is_deterministic_and_streams_the_same_bytes(curriculum):
    c = curriculum.connect(token=READ_TOKEN).curriculum
    first = await call(c.generate, "bin", 1, 50, 7)
    second = await call(c.generate, "bin", 1, 50, 7)
    assert first.jsonl == second.jsonl and len(first.rows) == 50
    local = generate_problems(default_registry().get("bin"), 1, 50, 7)
    assert first.jsonl == rows_to_jsonl([training_row(p, 7) for p in local])
    row = json.loads(first.jsonl.splitlines()[0])
    assert row["messages"][0]["role"] == "user" and row["messages"][1]["role"] == "assistant"
    assert json.loads(first.sidecar_json)["schema_id"] == "chat_sft_v1"
    parts = await call(lambda: list(c.stream_batch("bin", 1, 50, 7, chunk_rows=16)))
    assert [len(p.rows) for p in parts] == [16, 16, 16, 2]
    assert b"".join(p.jsonl for p in parts) == first.jsonl
    with pytest.raises(grpc.RpcError) as err:
        await call(c.generate, "bin", 99, 1, 0)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "level" in err.value.details()


async def test_review_share_mixes_lower_levels_over_grpc(curriculum):
    c = curriculum.connect(token=READ_TOKEN).curriculum
    mixed = await call(c.generate, "bin", 4, 60, 9, review_share=0.25)
    local = generate_problems(default_registry().get("bin"), 4, 60, 9, review_share=0.25)
    assert mixed.jsonl == rows_to_jsonl([training_row(p, 9) for p in local])
    levels = [json.loads(r.metadata_json)["level"] for r in mixed.rows]
    assert sorted(set(levels)) == [1, 2, 3, 4] and levels.count(4) == 45
    assert json.loads(mixed.sidecar_json)["rows_per_level"] == {"1": 5, "2": 5, "3": 5, "4": 45}
    parts = await call(lambda: list(c.stream_batch("bin", 4, 60, 9, chunk_rows=25, review_share=0.25)))
    assert b"".join(p.jsonl for p in parts) == mixed.jsonl
    assert json.loads(parts[0].sidecar_json) == json.loads(mixed.sidecar_json)
    with pytest.raises(grpc.RpcError) as err:
        await call(c.generate, "bin", 4, 10, 9, review_share=0.75)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "review_share" in err.value.details()


async def test_generate_to_file_writes_rows_and_sidecar(curriculum, tmp_path):
    c = curriculum.connect().curriculum
    path = tmp_path / "quest.jsonl"
    assert await call(c.generate_to_file, path, "syllo", 2, 20, 3) == 20
    assert len(path.read_bytes().splitlines()) == 20
    report = await call(c.validate_file, path, level="deep")  # schema comes from the sidecar
    assert report.accepted and report.rows == 20 and report.schema_id == "chat_sft_v1"


async def test_grade_uses_the_frozen_eval_copy(curriculum):
    c = curriculum.connect(token=READ_TOKEN).curriculum
    es = await call(c.eval_set, "bin", 2)
    frozen = eval_set(default_registry().get("bin"), 2)
    items = []
    for problem, local in zip(es.problems[:10], frozen.problems[:10], strict=True):
        items.append((problem, local.solution))
        items.append((problem, local.expected + "①"))
    # A tampered payload does not change the verdict: eval problems are graded against the server's copy.
    tampered = pb.Problem()
    tampered.CopyFrom(es.problems[0])
    payload = json.loads(tampered.payload_json)
    payload["result"] = "nonsense"
    tampered.payload_json = json.dumps(payload)
    items.append((tampered, frozen.problems[0].solution))
    result = await call(c.grade, "bin", items)
    assert [r.correct for r in result.results] == [True, False] * 10 + [True]
    assert result.accuracy == pytest.approx(11 / 21)
    assert all(0 <= r.partial_score < 1 for r in result.results[1:20:2])


async def test_grade_and_spar_generated_problems_by_payload(curriculum):
    c = curriculum.connect(token=READ_TOKEN).curriculum
    batch = await call(c.generate, "syllo", 3, 2, 11)
    problems = []
    for row in batch.rows:
        meta = json.loads(row.metadata_json)
        local = next(p for p in generate_problems(default_registry().get("syllo"), 3, 2, 11) if p.id == meta["id"])
        problems.append(pb.Problem(id=local.id, messages=row.messages[:-1], expected=local.expected,
                                   payload_json=json.dumps(dict(local.payload)), level=3))
    right = row.messages[-1].content
    items = [(problems[0], batch.rows[0].messages[-1].content), (problems[1], "I give up")]
    graded = await call(c.grade, "syllo", items)
    assert [r.correct for r in graded.results] == [True, False]
    spar = await call(c.sparring_rows, "syllo", items)
    assert spar.wrong == 1
    messages = spar.rows[0].messages
    assert "I give up" in messages[0].content and messages[-1].content.startswith("It is incorrect.")
    assert problems[1].expected in messages[-1].content and right
    with pytest.raises(grpc.RpcError) as err:
        await call(c.grade, "syllo", [(pb.Problem(id="x", payload_json="{}"), "A")])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "payload_json" in err.value.details()


async def test_validate_dataset_streams_bad_files(curriculum):
    c = curriculum.connect(token=READ_TOKEN).curriculum
    good = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'
    report = await call(c.validate_chunks, [good, good[:30]], schema_id="chat_sft_v1", level="quick")
    assert not report.accepted and report.rows == 2
    (finding,) = report.findings
    assert (finding.kind, finding.line) == ("json_parse", 2)
    report = await call(c.validate_chunks, [good], schema_id="")
    assert not report.accepted and report.findings[0].kind == "missing_schema"
    # A 40 MB line crosses the wire in 1 MiB chunks and is counted, not held.
    big = [b'{"messages": "'] + [b"x" * (1 << 20)] * 40 + [b'"}\n', good]
    report = await call(c.validate_chunks, big, schema_id="chat_sft_v1", max_line_bytes=1 << 20)
    assert [(f.kind, f.line) for f in report.findings] == [("line_too_long", 1)]
    assert report.rows == 2 and report.bytes == sum(len(b) for b in big)


async def test_progression_over_grpc(curriculum):
    c = curriculum.connect().curriculum
    progress = await call(c.configure, "alpha", [pb.SkillSettings(skill="skills/bin", enabled=True),
                                                 pb.SkillSettings(skill="syllo", enabled=True, weight=3)])
    assert [(s.skill, s.mastered_level, s.training_level) for s in progress.skills] == \
        [("skills/bin", 0, 1), ("skills/syllo", 0, 1)]
    first = await call(c.record_eval, "alpha", "bin", 1, 0.95, checkpoint="assets/c1", global_step=10)
    assert not first.leveled_up
    flagged = await call(c.record_eval, "alpha", "bin", 1, 0.0, training_loss=0.001)
    assert flagged.flagged and not flagged.leveled_up
    second = await call(c.record_eval, "alpha", "bin", 1, 1.0, checkpoint="assets/c2", global_step=20)
    assert second.leveled_up and second.window_mean_accuracy == pytest.approx(0.975)  # eval_window 2
    assert (second.progress.mastered_level, second.progress.training_level) == (1, 2)
    progress = await call(c.progress, "alpha")
    b = progress.skills[0]
    assert [a.flagged for a in b.accuracy_history] == [False, True, False]
    assert b.progression[0].checkpoint == "assets/c2"
    plan = await call(c.plan, "alpha", "weighted", 100)
    assert [(p.skill, p.level, p.count) for p in plan] == [("skills/bin", 2, 25), ("skills/syllo", 1, 75)]
    # Writes need the admin role.
    reader = curriculum.connect(token=READ_TOKEN).curriculum
    with pytest.raises(grpc.RpcError) as err:
        await call(reader.record_eval, "alpha", "bin", 2, 1.0)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await call(reader.progress, "alpha")).campaign == "campaigns/alpha"


async def test_state_survives_a_restart(tmp_path):
    from fixtures.kit import make_test_settings, serve_for_test
    from services.curriculum.app import setup

    settings = make_test_settings(tmp_path, curriculum={"eval_window": 1})
    async with serve_for_test(settings, "curriculum", setup) as running:
        assert (await call(running.connect().curriculum.record_eval, "beta", "syllo", 1, 1.0)).leveled_up
    async with serve_for_test(settings, "curriculum", setup) as running:
        progress = await call(running.connect().curriculum.progress, "beta")
    assert [(s.skill, s.mastered_level) for s in progress.skills] == [("skills/syllo", 1)]
