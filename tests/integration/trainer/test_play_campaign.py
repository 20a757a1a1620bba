"""`realm play`'s default campaign against the real trainer and curriculum: created once, weights set before it
is activated, and (tiny hero) BIN only, no mantra on its rows."""

from __future__ import annotations

import argparse
import json

import pytest

from realm.curriculum.v1 import curriculum_pb2 as cpb
from realm.trainer.v1 import trainer_pb2 as pb
from realm_ops.play import DEFAULT_WEIGHTS, ensure_campaign

from .test_trainer_service import GOOD_ROWS, call, jsonl, wait_quest

pytestmark = pytest.mark.integration


async def test_default_campaign_of_the_tiny_hero_trains_without_a_mantra(stack_factory, tmp_path):
    async with stack_factory() as stack:
        realm = stack.realm
        args = argparse.Namespace(campaign="default", hero="tiny", skill=None)
        name = await call(ensure_campaign, realm, args)
        assert name == "campaigns/default"
        assert await call(ensure_campaign, realm, args) == name  # the active one is reused, not created again
        campaign = (await call(realm.trainer.GetCampaign, pb.GetCampaignRequest(name=name))).campaign
        assert campaign.state == pb.CAMPAIGN_STATE_ACTIVE and campaign.mantra.text == ""
        assert list(campaign.skills) == ["bin"]  # the tiny hero's default: BIN only
        progress = (await call(realm.curriculum.GetCampaignProgress,
                               cpb.GetCampaignProgressRequest(campaign=name))).progress
        weights = {s.skill.removeprefix("skills/"): s.weight for s in progress.skills}
        assert weights == pytest.approx({"bin": DEFAULT_WEIGHTS["bin"]})

        path = tmp_path / "q.jsonl"
        path.write_bytes(jsonl(GOOD_ROWS))
        quest = (await call(realm.trainer.submit_quest, path, campaign=name)).name
        await wait_quest(realm.trainer, quest, {pb.QUEST_STATE_COMPLETED})
        job = json.loads((stack.settings.data_dir / "trainer" / "runs" / quest.removeprefix("quests/")
                          / "job.json").read_text())
        assert not (job.get("mantra") or {}).get("text")  # rows train as they are: no system turn added
