"""A trial end to end: a real vault, a real inference service with the tiny hero, and the curriculum.

The hero is randomly initialised, so it answers nothing right: the checks are that every eval problem went
through inference, was graded, reported into the vault, attached to the checkpoint, and recorded — and that
0 % accuracy with a near-zero training loss is flagged as a broken eval rather than applied.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time

import pytest
import torch

from realm.curriculum.v1 import curriculum_pb2 as pb
from realm.vault.v1 import vault_pb2
from services.curriculum.app import setup as curriculum_setup
from services.curriculum.skills.base import default_registry, eval_set
from services.inference.app import setup as inference_setup
from services.inference.testing import build_test_hero
from services.kit.config import SERVICE_NAMES
from services.kit.testing import make_test_settings, serve_for_test
from services.vault.app import setup as vault_setup

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def settings_with_ports(tmp_path, ports: dict[str, int], **sections):
    services = {name: {"host": "local", "port": ports.get(name, 0)} for name in SERVICE_NAMES}
    return make_test_settings(tmp_path, services=services, **sections)


async def test_evaluate_checkpoint_through_inference_and_vault(tmp_path):
    torch.set_num_threads(1)
    hero = await asyncio.to_thread(build_test_hero, tmp_path / "hero")
    vault_settings = make_test_settings(tmp_path / "vault", vault={"zones": {"hot": {"path": "zones/hot"}},
                                                                    "default_zone": "hot"})
    async with serve_for_test(vault_settings, "vault", vault_setup) as vault:
        admin = vault.connect()
        checkpoint = await asyncio.to_thread(admin.vault.push, hero, "checkpoint", display_name="tiny-hero",
                                             lineage={"campaign": "campaigns/trial", "global_step": 1200,
                                                      "metrics": {"loss": 0.001}})
        inference_settings = settings_with_ports(tmp_path / "inference", {"vault": vault.port},
                                                 inference={"max_batch_size": 8, "max_queue": 64})
        async with serve_for_test(inference_settings, "inference", inference_setup) as inference:
            settings = settings_with_ports(tmp_path / "curriculum",
                                           {"vault": vault.port, "inference": inference.port},
                                           curriculum={"eval_window": 1})
            async with serve_for_test(settings, "curriculum", curriculum_setup) as curriculum:
                c = curriculum.connect().curriculum
                await asyncio.to_thread(c.configure, "trial", [pb.SkillSettings(skill="bin", enabled=True)])
                started = await asyncio.to_thread(c.EvaluateCheckpoint, pb.EvaluateCheckpointRequest(
                    campaign="campaigns/trial", checkpoint=checkpoint.name))
                ev = started.evaluation
                assert ev.state in (pb.EVALUATION_STATE_PENDING, pb.EVALUATION_STATE_RUNNING)

                def watch():
                    seen = []
                    for update in c.WatchEvaluation(pb.WatchEvaluationRequest(name=ev.name), timeout=240):
                        seen.append(update.evaluation)
                    return seen

                updates = await asyncio.to_thread(watch)
                final = updates[-1]
                assert final.state == pb.EVALUATION_STATE_SUCCEEDED, final.error
                assert final.problems_done == final.problems_total == 50 and final.attempts == 1
                assert len(updates) > 3  # progress was streamed, not just the end state
                (result,) = final.results
                frozen = eval_set(default_registry().get("bin"), 1)
                assert (result.skill, result.level, result.total, result.regime) == \
                    ("skills/bin", 1, 50, pb.REGIME_EXHAUSTIVE)
                assert result.eval_set_hash == frozen.content_hash

                # The report in the vault holds every response, and regrading them gives the same verdicts.
                target = tmp_path / "report"
                await asyncio.to_thread(admin.vault.pull, result.report_asset, target)
                report = json.loads(next(target.rglob("*.json")).read_text())
                assert report["regime"] == "exhaustive" and len(report["items"]) == 50
                skill = default_registry().get("bin")
                by_id = {p.id: p for p in frozen.problems}
                for item in report["items"]:
                    assert skill.grade(by_id[item["id"]], item["response"]).correct == item["correct"]
                assert sum(i["correct"] for i in report["items"]) == result.correct

                evals = await asyncio.to_thread(admin.vault.ListEvals, vault_pb2.ListEvalsRequest(
                    asset=checkpoint.name))
                assert [(e.skill, e.level, e.report_asset) for e in evals.evals] == \
                    [("bin", 1, result.report_asset)]

                progress = await asyncio.to_thread(c.progress, "trial")
                (point,) = progress.skills[0].accuracy_history
                assert (point.checkpoint, point.global_step, point.accuracy) == \
                    (checkpoint.name, 1200, result.accuracy)
                if result.accuracy == 0.0:
                    assert point.flagged and "looks broken" in point.flag_reason
                listed = await asyncio.to_thread(c.ListEvaluations, pb.ListEvaluationsRequest(
                    campaign="campaigns/trial"))
                assert [e.name for e in listed.evaluations] == [ev.name]  # the pre-existing push got no trial
                best = await asyncio.to_thread(admin.vault.ResolveAlias, vault_pb2.ResolveAliasRequest(
                    name="campaigns/trial/aliases/best/bin"))
                assert best.asset.name == checkpoint.name
                assert best.alias.metric_value == pytest.approx(result.accuracy)  # (L1 - 1) + accuracy

                # A checkpoint registered while the curriculum runs gets a trial without being asked.
                second_dir = tmp_path / "hero2"
                shutil.copytree(hero, second_dir)
                (second_dir / "note.txt").write_text("step 1300")
                second = await asyncio.to_thread(admin.vault.push, second_dir, "checkpoint",
                                                 lineage={"campaign": "campaigns/trial", "global_step": 1300,
                                                          "metrics": {"loss": 2.0}})

                def auto_trial():
                    for _ in range(600):
                        found = c.ListEvaluations(pb.ListEvaluationsRequest(campaign="campaigns/trial")).evaluations
                        auto = [e for e in found if e.checkpoint == second.name]
                        if auto and auto[0].state in (pb.EVALUATION_STATE_SUCCEEDED, pb.EVALUATION_STATE_FAILED):
                            return auto[0]
                        time.sleep(0.1)
                    raise AssertionError("no automatic trial for the new checkpoint")

                auto = await asyncio.to_thread(auto_trial)
                assert auto.state == pb.EVALUATION_STATE_SUCCEEDED, auto.error
                assert auto.results[0].total == 50
                progress = await asyncio.to_thread(c.progress, "trial")
                assert [(a.checkpoint, a.flagged) for a in progress.skills[0].accuracy_history][-1] == \
                    (second.name, False)  # a real loss (2.0): a 0 % eval is a result, not a broken eval
