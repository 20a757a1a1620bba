"""Transfer baselines as idle tasks, end to end: the curriculum registers a "passives" task on a real inference
host, its worker claims it while the host is idle and answers with background-priority chat through the tiny
hero, and the report compares the checkpoint with the base model on the same frozen sets. A full eval of an
older checkpoint runs the same way."""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest
import torch

from fixtures.heroes import build_test_hero
from fixtures.kit import make_test_settings, serve_for_test
from realm.curriculum.v1 import curriculum_pb2 as pb
from realm.curriculum.v1 import passives_pb2 as ppb
from realm.inference.v1 import tasks_pb2 as tpb
from realm.sdk.tasks import create_task, get_task
from services.curriculum.app import setup as curriculum_setup
from services.inference.app import setup as inference_setup
from services.kit.config import SERVICE_NAMES

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def settings_with_ports(tmp_path, ports: dict[str, int], **sections):
    services = {name: {"host": "local", "port": ports.get(name, 0)} for name in SERVICE_NAMES}
    return make_test_settings(tmp_path, services=services, **sections)


async def finished(realm, task: str, seconds: float = 300) -> tpb.Task:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(get_task, realm, task)
        if found.state in (tpb.TASK_STATE_SUCCEEDED, tpb.TASK_STATE_FAILED, tpb.TASK_STATE_CANCELLED):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{task} did not finish: {found}")


async def test_passives_and_an_old_checkpoint_eval_run_as_idle_tasks(tmp_path):
    torch.set_num_threads(1)
    base = await asyncio.to_thread(build_test_hero, tmp_path / "base")
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(base, checkpoint)
    async with serve_for_test(settings_with_ports(tmp_path / "inference", {}, inference={"max_batch_size": 4}),
                              "inference", inference_setup) as inference:
        settings = settings_with_ports(
            tmp_path / "curriculum", {"inference": inference.port},
            curriculum={"auto_evaluate": False, "passives": {"problems_per_set": 2, "untrained_levels": 1,
                                                             "levels_below": 1, "poll_seconds": 0.2}})
        async with serve_for_test(settings, "curriculum", curriculum_setup) as curriculum:
            realm = curriculum.connect()
            host = inference.connect()
            await asyncio.to_thread(realm.curriculum.ConfigureCampaign, pb.ConfigureCampaignRequest(
                campaign="campaigns/c1", skills=[pb.SkillSettings(skill="skills/bin", enabled=True,
                                                                  training_level_override=2)]))
            scheduled = await asyncio.to_thread(realm.curriculum.SchedulePassives, ppb.SchedulePassivesRequest(
                campaign="campaigns/c1", checkpoint=str(base), base=True))
            assert list(scheduled.sets) == ["bin/1", "syllo/1"]
            done = await finished(host, scheduled.task)
            assert done.state == tpb.TASK_STATE_SUCCEEDED, done.error
            assert done.result["sets"] == "2" and done.worker.startswith("curriculum@")

            later = await asyncio.to_thread(realm.curriculum.SchedulePassives, ppb.SchedulePassivesRequest(
                campaign="c1", checkpoint=str(checkpoint)))
            assert (await finished(host, later.task)).state == tpb.TASK_STATE_SUCCEEDED

            report = await asyncio.to_thread(realm.curriculum.GetPassivesReport,
                                             ppb.GetPassivesReportRequest(campaign="campaigns/c1"))
            assert report.base_model == str(base)
            measured = [r for r in report.results if not r.base]
            assert {(r.skill, r.level) for r in measured} == {("bin", 1), ("syllo", 1)}
            assert all(r.checkpoint == str(checkpoint) and r.has_base and r.total == 2 for r in measured)
            # The same random weights under two names: whatever they score, they score it on both.
            assert all(r.delta == 0.0 and not r.regression for r in measured)
            assert {s.skill for s in report.skills} == {"bin", "syllo"}

            old_eval = await asyncio.to_thread(create_task, host, "eval",
                                               {"campaign": "c1", "checkpoint": str(checkpoint)})
            evaluated = await finished(host, old_eval.name)
            assert evaluated.state == tpb.TASK_STATE_SUCCEEDED, evaluated.error
            # A full eval: every level up to the training level + 1 of the trained skill.
            assert {k for k in evaluated.result if "/" in k} == {"bin/1", "bin/2", "bin/3"}


async def test_bad_requests_name_the_field(tmp_path):
    import grpc

    settings = make_test_settings(tmp_path)
    async with serve_for_test(settings, "curriculum", curriculum_setup) as curriculum:
        realm = curriculum.connect()
        with pytest.raises(grpc.RpcError) as caught:
            await asyncio.to_thread(realm.curriculum.SchedulePassives,
                                    ppb.SchedulePassivesRequest(campaign="c1", checkpoint=""))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "checkpoint" in caught.value.details()
        with pytest.raises(grpc.RpcError) as caught:
            await asyncio.to_thread(realm.curriculum.GetPassivesReport, ppb.GetPassivesReportRequest())
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "campaign" in caught.value.details()
