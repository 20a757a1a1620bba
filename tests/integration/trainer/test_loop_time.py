"""The loop measures itself, and one long-lived worker trains consecutive quests (real worker, vault, curriculum)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import grpc
import pytest

from realm.trainer.v1 import loop_time_pb2 as lpb
from realm.trainer.v1 import trainer_pb2 as pb

from .test_trainer_service import GOOD_ROWS, call, jsonl, start_campaign, wait_quest

pytestmark = pytest.mark.integration


def processes_naming(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


async def test_consecutive_quests_share_one_worker_and_the_time_split_adds_up(stack_factory, tmp_path):
    async with stack_factory() as stack:
        trainer = stack.realm.trainer
        campaign = await start_campaign(trainer, {"max_steps": 4, "checkpoint_every_steps": 2})
        names = []
        for index in range(2):
            path = tmp_path / f"q{index}.jsonl"
            path.write_bytes(jsonl(GOOD_ROWS))
            names.append((await call(trainer.submit_quest, path)).name)
        done = [await wait_quest(trainer, name, {pb.QUEST_STATE_COMPLETED}) for name in names]
        assert [q.steps_done for q in done] == [4, 4]
        runs = stack.settings.data_dir / "trainer" / "runs"
        second_job = json.loads((runs / names[1].removeprefix("quests/") / "job.json").read_text())
        assert second_job["global_step_offset"] == 4  # it continued the campaign like a fresh process would
        # One process for both: the one spawned for the first quest is still up, idle, after the second.
        first_job = str(runs / names[0].removeprefix("quests/") / "job.json")
        workers = processes_naming(first_job)
        assert len(workers) == 1

        loop = (await call(trainer.GetLoopTime, lpb.GetLoopTimeRequest(campaign=campaign))).loop_time
        assert (loop.worker_starts, loop.worker_reuses) == (1, 1)
        assert loop.training_seconds > 0 and loop.worker_startup_seconds > 0 and loop.checkpoint_save_seconds > 0
        parts = (loop.training_seconds + loop.worker_startup_seconds + loop.checkpoint_save_seconds
                 + loop.waiting_for_data_seconds + loop.idle_seconds)
        assert loop.wall_seconds == pytest.approx(parts)
        assert 0 < loop.busy_share < 1 and loop.since.seconds > 0

        # Pausing releases the idle worker (the device is free while paused): its process ends.
        await call(trainer.PauseTraining, pb.PauseTrainingRequest())
        pid = workers[0]
        for _ in range(300):
            if not Path(f"/proc/{pid}").exists():
                break
            await asyncio.sleep(0.1)
        assert not Path(f"/proc/{pid}").exists()

        with pytest.raises(grpc.RpcError) as missing:
            await call(trainer.GetLoopTime, lpb.GetLoopTimeRequest(campaign="campaigns/nope"))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND and "campaign" in missing.value.details()
        with pytest.raises(grpc.RpcError) as empty:
            await call(trainer.GetLoopTime, lpb.GetLoopTimeRequest())
        assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
