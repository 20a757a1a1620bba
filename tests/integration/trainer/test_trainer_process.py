"""The trainer as its own process (`python -m services.trainer`): kill -9 of the whole trainer mid-quest, then a
restart continues the quest from its last checkpoint. The CLI drives a running trainer too.

The trainer binds port 0 and publishes it (services.kit.ports); the realm.yaml the CLI and the restarted trainer
read then names that port (a restart comes back on the port it had, as under the supervisor)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import grpc
import pytest

from fixtures.kit import ADMIN_TOKEN, with_ports, write_settings
from fixtures.ports import wait_for_address
from realm.sdk import connect
from realm.trainer.v1 import trainer_pb2 as pb

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
ROWS = [{"messages": [{"role": "user", "content": f"add({a:b}, {b:b})"},
                      {"role": "assistant", "content": f"add({a:b}, {b:b}) = {a + b:b}"}]}
        for a in range(4) for b in range(4)]


async def call(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


async def start_trainer(config: Path, log: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO}:{REPO / 'clients'}"}
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.trainer", "--config", str(config), cwd=str(REPO), env=env,
            stdout=out, stderr=out, start_new_session=True)


async def wait_serving(trainer, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            await call(trainer.GetRunStatus, pb.GetRunStatusRequest(), timeout=2)
            return
        except grpc.RpcError:
            await asyncio.sleep(0.2)
    raise AssertionError("trainer did not start")


async def get_quest(trainer, name: str) -> pb.Quest:
    return (await call(trainer.GetQuest, pb.GetQuestRequest(name=name))).quest


@pytest.mark.slow
async def test_trainer_killed_mid_quest_resumes_after_restart_and_cli_drives_it(stack_factory, tmp_path):
    async with stack_factory(trainer_in_process=False) as stack:
        config = write_settings(stack.settings, tmp_path / "realm.yaml")  # the trainer's port: 0
        log = tmp_path / "trainer.log"
        process = await start_trainer(config, log)
        try:
            port = (await call(wait_for_address, stack.settings.data_dir, "trainer", process, log=log))["port"]
            write_settings(with_ports(stack.settings, {"trainer": port}), config)
            trainer = connect(addresses={"trainer": f"127.0.0.1:{port}"}, token=ADMIN_TOKEN).trainer
            await wait_serving(trainer)
            from realm.cli.main import main as cli

            def run_cli(*argv: str) -> int:
                return cli(["--config", str(config), *argv])

            assert await call(run_cli, "campaign", "new", "--hero", "tiny", "--name", "road", "--id", "road",
                              "--set", "max_steps=40", "--set", "checkpoint_every_steps=5", "--activate",
                              "--json") == 0
            quest_file = tmp_path / "q.jsonl"
            quest_file.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in ROWS))
            assert await call(run_cli, "quest", "add", str(quest_file), "--name", "survivor", "--json") == 0
            quests = (await call(trainer.ListQuests, pb.ListQuestsRequest(campaign="campaigns/road"))).quests
            name = quests[0].name
            deadline = time.monotonic() + 90
            while (await get_quest(trainer, name)).steps_done < 12 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)

            os.kill(process.pid, signal.SIGKILL)  # the whole trainer, mid-quest
            await process.wait()
            process = await start_trainer(config, log)
            await wait_serving(trainer)
            deadline = time.monotonic() + 120
            while (await get_quest(trainer, name)).state != pb.QUEST_STATE_COMPLETED and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            done = await get_quest(trainer, name)
            assert done.state == pb.QUEST_STATE_COMPLETED and done.steps_done == 40, done.state_reason
            events = await call(lambda: list(trainer.events(0, history_only=True)))
            started = [e for e in events if e.kind == pb.EVENT_KIND_QUEST_STARTED and e.quest == name]
            assert [e.attributes["resumed"] for e in started] == ["false", "true"]
            steps = [e.step.quest_step for e in events if e.kind == pb.EVENT_KIND_STEP]
            # Split at the resumed start, not at a repeated step: a kill right after a checkpoint repeats none.
            resumed_at = events.index(started[1])
            before = [e.step.quest_step for e in events[:resumed_at] if e.kind == pb.EVENT_KIND_STEP]
            after = [e.step.quest_step for e in events[resumed_at:] if e.kind == pb.EVENT_KIND_STEP]
            # Right after a checkpoint (every 5 steps) that the run had reached before the kill.
            assert after[0] - 1 in range(5, before[-1] + 1, 5)
            assert after == list(range(after[0], 41)) and steps[-1] == 40

            # The CLI reads the same state.
            assert await call(run_cli, "train", "status", "--json") == 0
            assert await call(run_cli, "quest", "show", name, "--json") == 0
            assert await call(run_cli, "memory", "estimate", "--hero", "tiny", "--precision", "fp32",
                              "--batch", "4", "--seq", "64", "--json") == 0
            assert await call(run_cli, "train", "watch", "--history-only", "--json") == 0
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
