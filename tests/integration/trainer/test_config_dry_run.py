"""ValidateTrainingConfig over gRPC: a hero's or a campaign's config checked in full, nothing started."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import struct_pb2

from fixtures.kit import READ_TOKEN
from realm.sdk import connect
from realm.trainer.v1 import config_check_pb2 as ccpb
from realm.trainer.v1 import trainer_pb2 as pb

pytestmark = pytest.mark.integration


def struct(data):
    message = struct_pb2.Struct()
    message.update(data)
    return message


async def call(fn, *args):
    return await asyncio.to_thread(fn, *args)


async def test_dry_run_lists_every_problem_and_resolves_a_good_config(stack_factory):
    async with stack_factory() as stack:
        trainer = stack.realm.trainer
        campaign = (await call(trainer.CreateCampaign, pb.CreateCampaignRequest(campaign=pb.Campaign(
            hero="heroes/tiny", config_overrides=struct({"learning_rate": 0.002})), campaign_id="dry"))).campaign
        reader = connect(stack.settings, token=READ_TOKEN).trainer
        bad = await call(reader.ValidateTrainingConfig, ccpb.ValidateTrainingConfigRequest(
            campaign=campaign.name, overrides=struct({"learning_rate": 7, "optimizer": "lion", "nope": 1})))
        assert not bad.valid and not bad.config.fields
        assert sorted((p.field, p.origin) for p in bad.problems) == [
            ("learning_rate", "overrides"), ("nope", "overrides"), ("optimizer", "overrides")]
        good = await call(reader.ValidateTrainingConfig, ccpb.ValidateTrainingConfigRequest(
            campaign=campaign.name, overrides=struct({"micro_batch_size": 2})))
        assert good.valid and not good.problems and len(good.config_hash) == 64
        config = dict(good.config)
        assert config["learning_rate"] == 0.002 and config["micro_batch_size"] == 2 and config["max_steps"] == 8
        status = await call(trainer.GetRunStatus, pb.GetRunStatusRequest())
        assert status.status.queued_quests == 0  # nothing was started or queued


async def test_unknown_hero_and_campaign_are_problems_and_naming_neither_is_invalid(stack_factory):
    async with stack_factory() as stack:
        trainer = stack.realm.trainer
        missing = await call(trainer.ValidateTrainingConfig, ccpb.ValidateTrainingConfigRequest(
            hero="heroes/ghost", overrides=struct({"epochs": 0})))
        assert [(p.field, p.origin) for p in missing.problems] == [("hero", "hero"), ("epochs", "overrides")]
        gone = await call(trainer.ValidateTrainingConfig, ccpb.ValidateTrainingConfigRequest(
            campaign="campaigns/ghost"))
        assert [p.field for p in gone.problems] == ["campaign"]
        with pytest.raises(grpc.RpcError) as err:
            await call(trainer.ValidateTrainingConfig, ccpb.ValidateTrainingConfigRequest())
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "hero" in err.value.details()
