"""The trainer over gRPC with the real vault, the real curriculum and the real training worker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import grpc
import pytest
from google.protobuf import field_mask_pb2

from realm.trainer.v1 import trainer_pb2 as pb
from realm.vault.v1 import vault_pb2 as vpb

pytestmark = pytest.mark.integration

GOOD_ROWS = [
    {"messages": [{"role": "user", "content": f"add({a:b}, {b:b})"},
                  {"role": "assistant", "content": f"add({a:b}, {b:b}) = {a + b:b}"}]}
    for a in range(4) for b in range(4)
]


def jsonl(rows) -> bytes:
    return b"".join((r if isinstance(r, str) else json.dumps(r)).encode() + b"\n" for r in rows)


async def call(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


async def wait_quest(trainer, name: str, states: set[int], timeout: float = 120.0) -> pb.Quest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        quest = (await call(trainer.GetQuest, pb.GetQuestRequest(name=name))).quest
        if quest.state in states:
            return quest
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} never reached {states}; last {pb.QuestState.Name(quest.state)} "
                         f"{quest.state_reason}")


async def start_campaign(trainer, overrides=None) -> str:
    campaign = pb.Campaign(display_name="binary road", hero="heroes/tiny")
    if overrides:
        campaign.config_overrides.update(overrides)
    created = (await call(trainer.CreateCampaign, pb.CreateCampaignRequest(campaign=campaign))).campaign
    await call(trainer.ActivateCampaign, pb.ActivateCampaignRequest(name=created.name))
    return created.name


def history(trainer) -> list[pb.Event]:
    return list(trainer.events(0, history_only=True))


async def test_quest_trains_checkpoints_land_in_the_vault_and_progress_streams(stack_factory, tmp_path):
    async with stack_factory() as stack:
        trainer, vault = stack.realm.trainer, stack.realm.vault
        heroes = (await call(trainer.ListHeroes, pb.ListHeroesRequest())).heroes
        assert [h.name for h in heroes] == ["heroes/tiny"] and heroes[0].parameter_count > 0
        campaign = await start_campaign(trainer)

        bad_file = tmp_path / "bad.jsonl"
        bad_file.write_bytes(jsonl([GOOD_ROWS[0], "{oops", {"messages": [{"role": "wizard", "content": "hi"}]}]))
        bad = await call(trainer.submit_quest, bad_file, priority="high")
        assert bad.state == pb.QUEST_STATE_REJECTED and not bad.validation.accepted
        assert {f.line for f in bad.validation.findings} >= {2, 3}
        kept = (await call(trainer.GetQuest, pb.GetQuestRequest(name=bad.name))).quest
        assert kept.state == pb.QUEST_STATE_REJECTED and kept.validation.error_count >= 2

        good_file = tmp_path / "bin.jsonl"
        good_file.write_bytes(jsonl(GOOD_ROWS))
        quest = await call(trainer.submit_quest, good_file)
        assert quest.state in (pb.QUEST_STATE_QUEUED, pb.QUEST_STATE_RUNNING), quest.state_reason
        assert quest.rows == 16 and quest.validation.accepted

        seen: list[pb.Event] = []

        def follow() -> None:
            for event in trainer.events(0, timeout=120):
                seen.append(event)
                if event.kind == pb.EVENT_KIND_CHECKPOINT_REGISTERED and event.attributes["global_step"] == "8":
                    return

        await call(follow)
        done = await wait_quest(trainer, quest.name, {pb.QUEST_STATE_COMPLETED})
        assert done.steps_done == 8 and done.steps_total == 8
        steps = [e.step for e in seen if e.kind == pb.EVENT_KIND_STEP]
        assert [s.global_step for s in steps] == list(range(1, 9))
        assert all(s.loss > 0 and s.tokens_per_second > 0 and s.trained_tokens > 0 for s in steps)
        assert steps[-1].loss < steps[0].loss
        sequences = [e.sequence for e in seen]
        assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
        # Resume the stream from the middle: exactly the events after that sequence.
        middle = seen[len(seen) // 2].sequence
        replay = await call(lambda: list(trainer.events(middle, history_only=True)))
        assert [e.sequence for e in replay][: len(seen) - len(seen) // 2 - 1] == sequences[len(seen) // 2 + 1:]

        assets = (await call(vault.ListAssets, vpb.ListAssetsRequest(campaign=campaign,
                                                                    kind=vpb.ASSET_KIND_CHECKPOINT))).assets
        by_step = {a.lineage.global_step: a for a in assets}
        assert sorted(by_step) == [4, 8]
        final = by_step[8]
        assert final.lineage.hero == "heroes/tiny" and final.lineage.quest == quest.name
        assert final.lineage.config_hash and final.lineage.tokenizer_hash and final.lineage.chat_template_hash
        assert final.lineage.metrics["loss"] == pytest.approx(steps[-1].loss, rel=1e-6)
        assert final.lineage.parent_checkpoint == by_step[4].name
        assert any(f.path == "model.safetensors" for f in final.files)
        latest = await call(vault.ResolveAlias, vpb.ResolveAliasRequest(name=f"{campaign}/aliases/latest"))
        assert latest.alias.asset == final.name

        progress = (await call(trainer.GetHeroProgress, pb.GetHeroProgressRequest(campaign=campaign))).progress
        assert progress.xp == steps[-1].trained_tokens and progress.quests_completed == 1
        assert "trained token" in progress.xp_definition
        status = (await call(trainer.GetRunStatus, pb.GetRunStatusRequest())).status
        assert status.state == pb.RUN_STATE_IDLE and status.last_step.global_step == 8

        # A second campaign starts from that checkpoint (pulled from the vault by alias) and trains a quest
        # imported from a vault dataset asset; its checkpoints name the dataset in their lineage.
        dataset = await call(vault.push, good_file, "dataset", display_name="bin rows")
        second = pb.Campaign(display_name="sequel", hero="heroes/tiny",
                             starting_checkpoint=f"{campaign}/aliases/latest")
        second.config_overrides.update({"max_steps": 2, "checkpoint_every_steps": 0})
        sequel = (await call(trainer.CreateCampaign, pb.CreateCampaignRequest(campaign=second))).campaign
        await call(trainer.ActivateCampaign, pb.ActivateCampaignRequest(name=sequel.name))
        imported = (await call(trainer.ImportQuest, pb.ImportQuestRequest(
            header=pb.QuestHeader(display_name="from the vault"), dataset_asset=dataset.name))).quest
        assert imported.dataset_asset == dataset.name and imported.source == "vault" and imported.rows == 16
        assert imported.sha256 == dataset.files[0].sha256
        await wait_quest(trainer, imported.name, {pb.QUEST_STATE_COMPLETED})
        job = json.loads((stack.settings.data_dir / "trainer" / "runs" / imported.name.removeprefix("quests/")
                          / "job.json").read_text())
        assert "/base/" in job["model_dir"] and job["global_step_offset"] == 0
        for _ in range(100):
            sequel_assets = (await call(vault.ListAssets, vpb.ListAssetsRequest(
                campaign=sequel.name, kind=vpb.ASSET_KIND_CHECKPOINT))).assets
            if sequel_assets:
                break
            await asyncio.sleep(0.1)
        assert list(sequel_assets[0].lineage.source_assets) == [dataset.name]

        # The reader token can watch but not steer.
        reader = stack.realm.__class__(stack.realm.addresses, "read-token")
        await call(reader.trainer.GetRunStatus, pb.GetRunStatusRequest())
        with pytest.raises(grpc.RpcError) as denied:
            await call(reader.trainer.PauseTraining, pb.PauseTrainingRequest())
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.slow
async def test_pause_resume_stop_skip_over_grpc(stack_factory, tmp_path):
    async with stack_factory() as stack:
        trainer = stack.realm.trainer
        await start_campaign(trainer, {"max_steps": 100000, "checkpoint_every_steps": 0})
        (tmp_path / "a.jsonl").write_bytes(jsonl(GOOD_ROWS))
        first = await call(trainer.submit_quest, tmp_path / "a.jsonl", display_name="long one")
        second = await call(trainer.submit_quest, tmp_path / "a.jsonl", display_name="next one")

        async def steps_done(name):
            return (await call(trainer.GetQuest, pb.GetQuestRequest(name=name))).quest.steps_done

        deadline = time.monotonic() + 60
        while await steps_done(first.name) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await call(trainer.PauseTraining, pb.PauseTrainingRequest(reason="dinner"))
        paused = await wait_quest(trainer, first.name, {pb.QUEST_STATE_PAUSED}, timeout=30)
        assert paused.state_reason == "dinner"
        status = (await call(trainer.GetRunStatus, pb.GetRunStatusRequest())).status
        assert status.state == pb.RUN_STATE_PAUSED and status.worker_pid == 0
        saved = [e for e in await call(history, trainer) if e.kind == pb.EVENT_KIND_CHECKPOINT_SAVED]
        assert saved, "pause writes a checkpoint"

        at_pause = paused.steps_done
        await call(trainer.ResumeTraining, pb.ResumeTrainingRequest())
        deadline = time.monotonic() + 60
        while await steps_done(first.name) <= at_pause + 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        steps = [e.step.quest_step for e in await call(history, trainer) if e.kind == pb.EVENT_KIND_STEP]
        resumed_from = steps.index(at_pause) + 1
        assert steps[resumed_from] == at_pause + 1  # continues after the paused step, nothing repeated

        await call(trainer.StopTraining, pb.StopTrainingRequest(reason="maintenance"))
        await wait_quest(trainer, first.name, {pb.QUEST_STATE_PAUSED}, timeout=30)
        status = (await call(trainer.GetRunStatus, pb.GetRunStatusRequest())).status
        assert status.state == pb.RUN_STATE_STOPPED

        with pytest.raises(grpc.RpcError) as wrong:
            await call(trainer.SkipQuest, pb.SkipQuestRequest(name=second.name))
        assert wrong.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        await call(trainer.ResumeTraining, pb.ResumeTrainingRequest())
        await wait_quest(trainer, first.name, {pb.QUEST_STATE_RUNNING}, timeout=30)
        await call(trainer.SkipQuest, pb.SkipQuestRequest(name=first.name, reason="bored"))
        skipped = await wait_quest(trainer, first.name, {pb.QUEST_STATE_SKIPPED}, timeout=30)
        assert skipped.state_reason == "bored"
        await wait_quest(trainer, second.name, {pb.QUEST_STATE_RUNNING}, timeout=30)
        await call(trainer.StopTraining, pb.StopTrainingRequest())


async def test_queue_management_over_grpc(stack_factory, tmp_path):
    async with stack_factory() as stack:
        trainer = stack.realm.trainer
        campaign = await start_campaign(trainer)
        await call(trainer.PauseTraining, pb.PauseTrainingRequest())
        (tmp_path / "q.jsonl").write_bytes(jsonl(GOOD_ROWS))
        names = [(await call(trainer.submit_quest, tmp_path / "q.jsonl", display_name=f"q{i}")).name
                 for i in range(3)]
        await call(trainer.MoveQuest, pb.MoveQuestRequest(name=names[2], before_quest=names[0]))
        update = pb.UpdateQuestRequest(quest=pb.Quest(name=names[1], priority=pb.PRIORITY_HIGH),
                                       update_mask=field_mask_pb2.FieldMask(paths=["priority"]))
        await call(trainer.UpdateQuest, update)
        listed = (await call(trainer.ListQuests, pb.ListQuestsRequest(campaign=campaign))).quests
        assert [q.name for q in listed] == [names[1], names[2], names[0]]
        await call(trainer.DeleteQuest, pb.DeleteQuestRequest(name=names[0]))
        with pytest.raises(grpc.RpcError) as gone:
            await call(trainer.GetQuest, pb.GetQuestRequest(name=names[0]))
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as bad:
            await call(trainer.CreateCampaign, pb.CreateCampaignRequest(campaign=pb.Campaign(
                hero="heroes/tiny", config_overrides={"learning_rate": 5})))
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "learning_rate" in bad.value.details()

        renamed = (await call(trainer.UpdateCampaign, pb.UpdateCampaignRequest(
            campaign=pb.Campaign(name=campaign, display_name="renamed", config_overrides={"max_steps": 3}),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name", "config_overrides"])))).campaign
        assert renamed.display_name == "renamed" and dict(renamed.config_overrides) == {"max_steps": 3}
        with pytest.raises(grpc.RpcError) as immutable:
            await call(trainer.UpdateCampaign, pb.UpdateCampaignRequest(
                campaign=pb.Campaign(name=campaign, hero="heroes/other"),
                update_mask=field_mask_pb2.FieldMask(paths=["hero"])))
        assert immutable.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "hero" in immutable.value.details()

        estimate = await call(trainer.EstimateMemory, pb.EstimateMemoryRequest(
            hero="heroes/tiny", precision=pb.PRECISION_FP32, optimizer=pb.OPTIMIZER_KIND_ADAMW,
            micro_batch_size=4, sequence_length=64))
        hero = (await call(trainer.GetHero, pb.GetHeroRequest(name="heroes/tiny"))).hero
        parts = {c.name: c for c in estimate.components}
        assert set(parts) == {"weights", "gradients", "optimizer", "activations", "overhead"}
        assert parts["weights"].bytes == 4 * hero.parameter_count and parts["optimizer"].bytes == 8 * hero.parameter_count
        assert estimate.total_bytes == sum(c.bytes for c in estimate.components)
        lora = await call(trainer.EstimateMemory, pb.EstimateMemoryRequest(
            hero="heroes/tiny", lora=pb.LoraSettings(enabled=True, rank=4), micro_batch_size=4, sequence_length=64))
        assert 0 < lora.trainable_parameters < hero.parameter_count
        with pytest.raises(grpc.RpcError) as missing:
            await call(trainer.EstimateMemory, pb.EstimateMemoryRequest(parameter_count=1000))
        assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "hidden_size" in missing.value.details()


@pytest.mark.slow
async def test_vault_down_during_training_registers_checkpoints_once_it_returns(stack_factory, tmp_path):
    async with stack_factory(training_defaults={"max_steps": 12, "checkpoint_every_steps": 3}) as stack:
        trainer = stack.realm.trainer
        campaign = await start_campaign(trainer)
        await stack.stop_vault()
        (tmp_path / "q.jsonl").write_bytes(jsonl(GOOD_ROWS))
        quest = await call(trainer.submit_quest, tmp_path / "q.jsonl")
        done = await wait_quest(trainer, quest.name, {pb.QUEST_STATE_COMPLETED})
        assert done.steps_done == 12  # training did not wait for the vault
        events = await call(history, trainer)
        assert len([e for e in events if e.kind == pb.EVENT_KIND_CHECKPOINT_SAVED]) == 4
        assert not [e for e in events if e.kind == pb.EVENT_KIND_CHECKPOINT_REGISTERED]

        await stack.start_vault()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            registered = [e for e in await call(history, trainer) if e.kind == pb.EVENT_KIND_CHECKPOINT_REGISTERED]
            if len(registered) == 4:
                break
            await asyncio.sleep(0.2)
        assert sorted(int(e.attributes["global_step"]) for e in registered) == [3, 6, 9, 12]
        vault = stack.realm.vault
        latest = await call(vault.ResolveAlias, vpb.ResolveAliasRequest(name=f"{campaign}/aliases/latest"))
        asset = (await call(vault.GetAsset, vpb.GetAssetRequest(name=latest.alias.asset))).asset
        assert asset.lineage.global_step == 12 and asset.lineage.quest == quest.name


@pytest.mark.slow
async def test_worker_killed_mid_quest_resumes_and_matches_an_uninterrupted_run(stack_factory, tmp_path):
    overrides = {"max_steps": 16, "checkpoint_every_steps": 4, "seed": 3}
    async with stack_factory() as stack:
        trainer = stack.realm.trainer
        await start_campaign(trainer, overrides)
        (tmp_path / "q.jsonl").write_bytes(jsonl(GOOD_ROWS))
        reference = await call(trainer.submit_quest, tmp_path / "q.jsonl", display_name="reference")
        await wait_quest(trainer, reference.name, {pb.QUEST_STATE_COMPLETED})
        # Same quest from the same starting weights: a second campaign from the hero.
        await start_campaign(trainer, overrides)
        victim = await call(trainer.submit_quest, tmp_path / "q.jsonl", display_name="victim")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            quest = (await call(trainer.GetQuest, pb.GetQuestRequest(name=victim.name))).quest
            if quest.steps_done >= 6:
                break
            await asyncio.sleep(0.05)
        pid = (await call(trainer.GetRunStatus, pb.GetRunStatusRequest())).status.worker_pid
        os.kill(pid, signal.SIGKILL)
        done = await wait_quest(trainer, victim.name, {pb.QUEST_STATE_COMPLETED})
        assert done.steps_done == 16
        events = await call(history, trainer)
        restarted = [e for e in events if e.kind == pb.EVENT_KIND_WORKER_RESTARTED and e.quest == victim.name]
        assert len(restarted) == 1 and restarted[0].checkpoint.endswith("step-00000004")

        def final_loss(name):
            return [e.step.loss for e in events if e.kind == pb.EVENT_KIND_STEP and e.quest == name][-1]

        assert final_loss(victim.name) == pytest.approx(final_loss(reference.name), rel=1e-4, abs=1e-5)


@pytest.mark.slow
async def test_hero_loop_trains_curriculum_generated_quests(stack_factory):
    idle = {"enabled": True, "skills": ["bin"], "queue_threshold": 1, "batch_rows": 16, "preset": "balanced"}
    async with stack_factory(idle=idle, training_defaults={"max_steps": 3, "checkpoint_every_steps": 0}) as stack:
        trainer = stack.realm.trainer
        created = (await call(trainer.CreateCampaign, pb.CreateCampaignRequest(
            campaign=pb.Campaign(display_name="idle", hero="heroes/tiny", skills=["bin"])))).campaign
        await call(trainer.ActivateCampaign, pb.ActivateCampaignRequest(name=created.name))
        deadline = time.monotonic() + 90
        completed: list[pb.Quest] = []
        while time.monotonic() < deadline and not completed:
            quests = (await call(trainer.ListQuests, pb.ListQuestsRequest(campaign=created.name))).quests
            completed = [q for q in quests if q.state == pb.QUEST_STATE_COMPLETED]
            rejected = [q for q in quests if q.state == pb.QUEST_STATE_REJECTED]
            assert not rejected, rejected[0].validation
            await asyncio.sleep(0.2)
        await call(trainer.StopTraining, pb.StopTrainingRequest())
        assert completed, "the hero loop enqueued and trained a generated quest"
        quest = completed[0]
        assert quest.source == "hero_loop" and quest.labels["skill"] == "bin" and quest.labels["level"] == "1"
        assert quest.rows == 16 and quest.validation.accepted and quest.schema_id == "chat_sft_v1"
