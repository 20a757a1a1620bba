"""The data lineage of a two-quest campaign over gRPC and the CLI: the real curriculum validates both quests
(naming its validator version), the real worker trains them, the real vault registers their checkpoints."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest

from realm.cli.main import main
from realm.trainer.v1 import lineage_pb2 as lpb
from realm.trainer.v1 import trainer_pb2 as pb
from realm.vault.v1 import vault_pb2 as vpb

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")
ROWS = [{"messages": [{"role": "user", "content": f"add({a:b}, {b:b})"},
                      {"role": "assistant", "content": f"{a + b:b}"}]} for a in range(4) for b in range(4)]


async def checkpoints_registered(trainer, campaign: str, count: int, timeout: float = 180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = await asyncio.to_thread(trainer.GetCampaignLineage, lpb.GetCampaignLineageRequest(campaign=campaign))
        refs = [c for q in report.quests for c in q.checkpoints]
        if len(refs) == count and all(c.asset for c in refs):
            return report
        failed = [q.quest for q in report.quests if q.state == "FAILED"]
        if failed:
            quest = (await asyncio.to_thread(trainer.GetQuest, pb.GetQuestRequest(name=failed[0]))).quest
            raise AssertionError(f"{quest.name} failed: {quest.state_reason}")
        await asyncio.sleep(0.2)
    raise AssertionError(f"checkpoints not registered: {report}")


async def test_two_quest_campaign_lineage(stack_factory, tmp_path, capsys):
    async with stack_factory() as stack:
        trainer = stack.realm.trainer
        created = (await asyncio.to_thread(trainer.CreateCampaign, pb.CreateCampaignRequest(
            campaign=pb.Campaign(display_name="lineage", hero="heroes/tiny")))).campaign
        await asyncio.to_thread(trainer.ActivateCampaign, pb.ActivateCampaignRequest(name=created.name))
        files = {}
        for index, (generator, version) in enumerate([("curriculum/bin", "1"), ("curriculum/syllo", "3")]):
            path = tmp_path / f"q{index}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in ROWS[index * 8:(index + 1) * 8]))
            sidecar = {"schema_id": "chat_sft_v1", "generator": generator, "generator_version": version}
            path.with_name(f"q{index}.meta.json").write_text(json.dumps(sidecar))
            files[generator] = await asyncio.to_thread(trainer.submit_quest, path)
        report = await checkpoints_registered(trainer, created.name, 4)  # steps 4 and 8 of each quest

        assert report.campaign == created.name
        assert [q.quest for q in report.quests] == [files["curriculum/bin"].name, files["curriculum/syllo"].name]
        for item, generator, version in zip(report.quests, ("curriculum/bin", "curriculum/syllo"), ("1", "3"),
                                            strict=True):
            quest = files[generator]
            assert (item.generator, item.generator_version) == (generator, version)
            assert item.validator_version == "curriculum/validation@2" and item.schema_id == "chat_sft_v1"
            assert item.rows == 8 and item.sha256 == quest.sha256 and len(item.sha256) == 64
            assert [c.global_step for c in item.checkpoints] in ([4, 8], [12, 16])
            assert all(c.asset.startswith("assets/") and c.state == "done" for c in item.checkpoints)
        assert [c.global_step for c in report.quests[1].checkpoints] == [12, 16]  # the second continued
        vault_lineage = (await asyncio.to_thread(stack.realm.vault.GetAsset, vpb.GetAssetRequest(
            name=report.quests[1].checkpoints[0].asset))).asset.lineage
        assert vault_lineage.quest == report.quests[1].quest  # the vault agrees on what trained it
        groups = {(g.generator, g.generator_version): g for g in report.generators}
        assert set(groups) == {("curriculum/bin", "1"), ("curriculum/syllo", "3")}
        assert all(g.quests == 1 and g.rows == 8 and g.checkpoints == 2 and
                   list(g.validator_versions) == ["curriculum/validation@2"] for g in groups.values())

        assert await asyncio.to_thread(main, ["--config", str(stack_config(stack, tmp_path)), "campaign",
                                              "lineage", created.name.removeprefix("campaigns/"), "--json"]) == 0
        out = "".join(line for line in capsys.readouterr().out.splitlines(keepends=True) if not LOG_LINE.match(line))
        printed = json.loads(out)
        assert [q["generator"] for q in printed["quests"]] == ["curriculum/bin", "curriculum/syllo"]


def stack_config(stack, tmp_path):
    from fixtures.kit import write_test_config

    ports = {name: endpoint.port for name, endpoint in stack.settings.services.items()}
    (tmp_path / "cli").mkdir(exist_ok=True)
    return write_test_config(tmp_path / "cli", ports=ports)
