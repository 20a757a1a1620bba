"""GetQuestPreview and EstimateQuestQueue over gRPC with the real worker: a queued quest's first rows (also from
`realm quest preview --json`), and queue ETAs from the steps the campaign really trained, whose step count the
quest then really trains for."""

from __future__ import annotations

import asyncio
import json
import re

import grpc
import pytest

from fixtures.kit import write_test_config
from realm.cli.main import main
from realm.trainer.v1 import quest_view_pb2 as qpb
from realm.trainer.v1 import trainer_pb2 as pb

from .test_trainer_service import GOOD_ROWS, call, jsonl, start_campaign, wait_quest

pytestmark = pytest.mark.integration
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


async def test_preview_and_queue_estimate_of_queued_quests(stack_factory, tmp_path, capsys):
    async with stack_factory() as stack:
        trainer = stack.realm.trainer
        campaign = await start_campaign(trainer, {"max_steps": 4, "checkpoint_every_steps": 4})
        first = tmp_path / "first.jsonl"
        first.write_bytes(jsonl(GOOD_ROWS))
        done = await wait_quest(trainer, (await call(trainer.submit_quest, first)).name, {pb.QUEST_STATE_COMPLETED})
        await call(trainer.PauseTraining, pb.PauseTrainingRequest(reason="queue only"))
        queued = []
        for index in range(2):
            path = tmp_path / f"queued{index}.jsonl"
            path.write_bytes(jsonl(GOOD_ROWS[index:]))
            queued.append(await wait_quest(trainer, (await call(trainer.submit_quest, path)).name,
                                           {pb.QUEST_STATE_QUEUED}))

        preview = await call(trainer.quest_preview, queued[1].name, rows=3)
        assert [r.line for r in preview.rows] == [1, 2, 3] and preview.truncated
        from google.protobuf import json_format

        assert [json_format.MessageToDict(r.row) for r in preview.rows] == GOOD_ROWS[1:4]
        assert preview.total_rows == len(GOOD_ROWS) - 1

        estimate = await call(trainer.queue_estimate, campaign)
        assert estimate.active and estimate.tokens_per_second > 0
        assert [(e.quest, e.position) for e in estimate.quests] == [(q.name, i + 1) for i, q in enumerate(queued)]
        head, second = estimate.quests
        assert head.steps == second.steps == 4 and head.known and second.known
        assert head.starts_in_seconds == 0 and second.starts_in_seconds == pytest.approx(head.duration_seconds)
        assert head.duration_seconds == pytest.approx(head.tokens / estimate.tokens_per_second)
        assert done.steps_total == 4

        for bad, field in ((qpb.GetQuestPreviewRequest(name=queued[0].name, rows=101), "rows"),
                           (qpb.GetQuestPreviewRequest(name="quests/nope"), "name")):
            with pytest.raises(grpc.RpcError) as raised:
                await call(trainer.GetQuestPreview, bad)
            assert raised.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
            assert field in raised.value.details()
        with pytest.raises(grpc.RpcError) as raised:
            await call(trainer.EstimateQuestQueue, qpb.EstimateQuestQueueRequest(campaign="campaigns/nope"))
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND and "campaign" in raised.value.details()

        ports = {name: endpoint.port for name, endpoint in stack.settings.services.items()}
        (tmp_path / "cli").mkdir()
        config = write_test_config(tmp_path / "cli", ports=ports)
        assert await asyncio.to_thread(main, ["--config", str(config), "quest", "preview", queued[0].name,
                                              "--rows", "5", "--json"]) == 0
        out = "".join(line for line in capsys.readouterr().out.splitlines(keepends=True) if not LOG_LINE.match(line))
        assert [r["row"] for r in json.loads(out)["rows"]] == GOOD_ROWS[:5]
        assert await asyncio.to_thread(main, ["--config", str(config), "quest", "eta", campaign, "--json"]) == 0
        out = "".join(line for line in capsys.readouterr().out.splitlines(keepends=True) if not LOG_LINE.match(line))
        assert [q["quest"] for q in json.loads(out)["quests"]] == [q.name for q in queued]

        await call(trainer.ResumeTraining, pb.ResumeTrainingRequest())
        trained = await wait_quest(trainer, queued[0].name, {pb.QUEST_STATE_COMPLETED})
        assert trained.steps_total == head.steps  # the estimate's step count is what the worker trained
