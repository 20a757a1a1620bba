"""Sparring generation as an idle task, end to end: `realm task run sparring` registers it on a real inference
host, the curriculum's worker claims it while the host is idle, the tiny hero (random weights: every answer is
wrong) answers fresh BIN problems with background-priority chat, and the wrong answers reach the trainer (a
stand-in gRPC server recording SubmitQuest) as one high-priority sparring quest, through the curriculum's outbox.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest
import torch

from fixtures.heroes import build_test_hero
from fixtures.kit import make_test_settings, serve_for_test, write_test_config
from realm.cli.main import main
from realm.curriculum.v1 import curriculum_pb2 as pb
from realm.inference.v1 import tasks_pb2 as tpb
from realm.sdk.tasks import get_task
from realm.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from services.curriculum.app import setup as curriculum_setup
from services.inference.app import setup as inference_setup
from services.kit.config import SERVICE_NAMES

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


def settings_with_ports(tmp_path, ports: dict[str, int], **sections):
    services = {name: {"host": "local", "port": ports.get(name, 0)} for name in SERVICE_NAMES}
    return make_test_settings(tmp_path, services=services, **sections)


class QuestRecorder(trainer_pb2_grpc.TrainerServiceServicer):
    """The trainer's SubmitQuest contract, recording what arrives (the trainer itself is tested elsewhere)."""

    def __init__(self) -> None:
        self.quests: list[tuple[trainer_pb2.QuestHeader, bytes]] = []
        self.arrived = asyncio.Event()

    async def SubmitQuest(self, request_iterator, context):
        header, data = None, b""
        async for message in request_iterator:
            if message.HasField("header"):
                header = message.header
            else:
                data += message.chunk
        self.quests.append((header, data))
        self.arrived.set()
        return trainer_pb2.SubmitQuestResponse(quest=trainer_pb2.Quest(name=f"quests/s{len(self.quests)}"))


def cli_json(capsys, *argv) -> dict:
    assert main(list(argv)) == 0
    out = "".join(line for line in capsys.readouterr().out.splitlines(keepends=True) if not LOG_LINE.match(line))
    return json.loads(out)


async def finished(realm, task: str, seconds: float = 300) -> tpb.Task:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(get_task, realm, task)
        if found.state in (tpb.TASK_STATE_SUCCEEDED, tpb.TASK_STATE_FAILED, tpb.TASK_STATE_CANCELLED):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{task} did not finish: {found}")


async def test_sparring_task_from_the_cli_delivers_a_correction_quest(tmp_path, capsys):
    torch.set_num_threads(1)
    hero = await asyncio.to_thread(build_test_hero, tmp_path / "hero")
    recorder = QuestRecorder()

    async def trainer_setup(server):
        server.add(recorder, trainer_pb2_grpc.add_TrainerServiceServicer_to_server, "realm.trainer.v1.TrainerService")

    async with serve_for_test(settings_with_ports(tmp_path / "inference", {}, inference={"max_batch_size": 4}),
                              "inference", inference_setup) as inference, \
            serve_for_test(make_test_settings(tmp_path / "trainer"), "trainer", trainer_setup) as trainer:
        settings = settings_with_ports(
            tmp_path / "curriculum", {"inference": inference.port, "trainer": trainer.port},
            curriculum={"auto_evaluate": False, "passives": {"poll_seconds": 0.2}, "sparring": {"max_rows": 2}})
        async with serve_for_test(settings, "curriculum", curriculum_setup) as curriculum:
            await asyncio.to_thread(curriculum.connect().curriculum.ConfigureCampaign, pb.ConfigureCampaignRequest(
                campaign="campaigns/c1", skills=[pb.SkillSettings(skill="skills/bin", enabled=True)]))
            (tmp_path / "cli").mkdir()
            config = str(write_test_config(tmp_path / "cli", ports={"inference": inference.port}))
            created = await asyncio.to_thread(
                cli_json, capsys, "--config", config, "task", "run", "sparring", "-p", "campaign=c1",
                "-p", f"checkpoint={hero}", "-p", "problems=3", "--id", "spar-1", "--priority", "30", "--json")
            assert (created["name"], created["kind"], created["priority"]) == ("tasks/spar-1", "sparring", 30)

            done = await finished(inference.connect(), "tasks/spar-1")
            assert done.state == tpb.TASK_STATE_SUCCEEDED, done.error
            assert done.worker.startswith("curriculum@")
            assert dict(done.result) == {"checkpoint": str(hero), "seed": done.result["seed"], "rows": "2",
                                         "quests_queued": "1", "bin/1": "3/3 wrong, 2 rows"}

            await asyncio.wait_for(recorder.arrived.wait(), 60)
            ((header, data),) = recorder.quests
            assert (header.campaign, header.priority, header.schema_id, header.source) \
                == ("c1", trainer_pb2.PRIORITY_HIGH, "chat_sft_v1", "sparring")
            assert dict(header.labels) == {"skill": "bin", "level": "1"}
            assert header.display_name == "sparring bin L1 spar-1"
            rows = [json.loads(line) for line in data.decode().splitlines()]
            assert len(rows) == 2 and all(r["metadata"]["kind"] == "sparring" for r in rows)
            assert all(r["messages"][-1]["content"].startswith("It is incorrect.\n") for r in rows)

            shown = await asyncio.to_thread(cli_json, capsys, "--config", config, "task", "status", "spar-1",
                                            "--json")
            assert shown["state"] == "succeeded" and shown["result"]["rows"] == "2"

            # Bad parameters fail the task with an error naming the parameter.
            bad = await asyncio.to_thread(
                cli_json, capsys, "--config", config, "task", "run", "sparring", "-p", "campaign=c1",
                "-p", f"checkpoint={hero}", "-p", "problems=lots", "--json")
            failed = await finished(inference.connect(), bad["name"])
            assert failed.state == tpb.TASK_STATE_FAILED and "problems" in failed.error
