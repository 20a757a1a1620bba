"""A campaign's setup over gRPC and the CLI with the real vault, curriculum and training worker: the mantra
(versioned, written into every checkpoint and its vault lineage), a locked field refused with FAILED_PRECONDITION,
a fork from a checkpoint that trains from its weights, and `realm hero validate` on the real hero files."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import field_mask_pb2

from fixtures.kit import write_test_config
from realm.cli.main import main
from realm.trainer.v1 import campaign_setup_pb2 as spb
from realm.trainer.v1 import hero_check_pb2 as hpb
from realm.trainer.v1 import trainer_pb2 as pb
from realm.vault.v1 import vault_pb2 as vpb

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "hf_configs"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")
ROWS = [{"messages": [{"role": "user", "content": f"add({a:b}, {b:b})"},
                      {"role": "assistant", "content": f"add({a:b}, {b:b}) = {a + b:b}"}]}
        for a in range(4) for b in range(4)]


async def call(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


async def wait_quest(trainer, name: str, timeout: float = 180.0) -> pb.Quest:
    deadline = time.monotonic() + timeout
    quest = None
    while time.monotonic() < deadline:
        quest = (await call(trainer.GetQuest, pb.GetQuestRequest(name=name))).quest
        if quest.state in (pb.QUEST_STATE_COMPLETED, pb.QUEST_STATE_FAILED):
            return quest
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} did not finish: {quest}")


async def checkpoints_of(vault, campaign: str, count: int) -> dict[int, vpb.Asset]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assets = (await call(vault.ListAssets, vpb.ListAssetsRequest(campaign=campaign,
                                                                    kind=vpb.ASSET_KIND_CHECKPOINT))).assets
        if len(assets) >= count:
            return {a.lineage.global_step: a for a in assets}
        await asyncio.sleep(0.1)
    raise AssertionError(f"{campaign} has fewer than {count} registered checkpoints")


def file_sha(asset: vpb.Asset, path: str) -> str:
    return next(f.sha256 for f in asset.files if f.path == path)


class Cli:
    def __init__(self, stack, tmp_path, capsys) -> None:
        ports = {name: endpoint.port for name, endpoint in stack.settings.services.items()}
        (tmp_path / "cli").mkdir(exist_ok=True)
        self.config = write_test_config(tmp_path / "cli", ports=ports)
        self.capsys = capsys

    async def __call__(self, *argv: str) -> tuple[int, object]:
        self.capsys.readouterr()
        code = await asyncio.to_thread(main, ["--config", str(self.config), *argv])
        out = "".join(line for line in self.capsys.readouterr().out.splitlines(keepends=True)
                      if not LOG_LINE.match(line))
        return code, json.loads(out)


async def test_mantra_lock_and_fork_through_the_api_and_the_cli(stack_factory, tmp_path, capsys):
    async with stack_factory() as stack:
        trainer, vault = stack.realm.trainer, stack.realm.vault
        cli = Cli(stack, tmp_path, capsys)
        created = (await call(trainer.CreateCampaign, pb.CreateCampaignRequest(
            campaign=pb.Campaign(display_name="road", hero="heroes/tiny"), campaign_id="road"))).campaign
        assert created.mantra.text.startswith("Today is {date}.") and created.mantra.version == 1
        assert created.mantra.rule == spb.MANTRA_RULE_KEEP and not created.locked_fields

        code, shown = await cli("campaign", "mantra", "road", "Be brief. Today is {date}.", "--rule", "replace",
                                "--json")
        assert code == 0 and shown["version"] == 2 and shown["rule"] == "replace"
        updated = (await call(trainer.UpdateCampaign, pb.UpdateCampaignRequest(
            campaign=pb.Campaign(name="campaigns/road", mantra=spb.Mantra(text="Be brief. Date: {date}.")),
            update_mask=field_mask_pb2.FieldMask(paths=["mantra.text"])))).campaign
        assert (updated.mantra.version, updated.mantra.rule) == (3, spb.MANTRA_RULE_REPLACE)
        with pytest.raises(grpc.RpcError) as bad:
            await call(trainer.UpdateCampaign, pb.UpdateCampaignRequest(
                campaign=pb.Campaign(name="campaigns/road", mantra=spb.Mantra(rule=7)),
                update_mask=field_mask_pb2.FieldMask(paths=["mantra.rule"])))
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "mantra.rule" in bad.value.details()

        await call(trainer.ActivateCampaign, pb.ActivateCampaignRequest(name="campaigns/road"))
        quest_file = tmp_path / "bin.jsonl"
        quest_file.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
        quest = await call(trainer.submit_quest, quest_file)
        assert (await wait_quest(trainer, quest.name)).state == pb.QUEST_STATE_COMPLETED
        assets = await checkpoints_of(vault, "campaigns/road", 2)
        for asset in assets.values():  # the mantra travels with every checkpoint: lineage + mantra.json
            assert (asset.lineage.mantra_text, asset.lineage.mantra_rule, asset.lineage.mantra_version) == \
                ("Be brief. Date: {date}.", "replace", 3)
            assert "mantra.json" in {f.path for f in asset.files}

        locked = (await call(trainer.GetCampaign, pb.GetCampaignRequest(name="campaigns/road"))).campaign
        assert [f.field for f in locked.locked_fields] == ["base_model", "architecture", "tokenizer",
                                                           "chat_template", "max_seq_len"]
        assert dict((f.field, f.value) for f in locked.locked_fields)["max_seq_len"] == "128"
        change = pb.Campaign(name="campaigns/road")
        change.config_overrides.update({"max_seq_len": 256})
        with pytest.raises(grpc.RpcError) as refused:
            await call(trainer.UpdateCampaign, pb.UpdateCampaignRequest(
                campaign=change, update_mask=field_mask_pb2.FieldMask(paths=["config_overrides"])))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "max_seq_len" in refused.value.details() and "realm campaign fork" in refused.value.details()

        # Fork from the first checkpoint (trimmed locally: the fork pulls it from the vault) with a longer context.
        first = assets[min(assets)]
        code, fork = await cli("campaign", "fork", first.name, "--name", "road 256", "--id", "road-256",
                               "--set", "max_seq_len=256", "--activate", "--json")
        assert code == 0 and fork["forked_from"] == first.name and fork["starting_checkpoint"] == first.name
        assert fork["config_overrides"]["max_seq_len"] == 256 and fork["mantra"]["version"] == "3"
        second = await call(trainer.submit_quest, quest_file)
        done = await wait_quest(trainer, second.name)
        assert done.state == pb.QUEST_STATE_COMPLETED, done.state_reason
        assert done.campaign == "campaigns/road-256"
        job = json.loads((stack.settings.data_dir / "trainer" / "runs" / second.name.removeprefix("quests/")
                          / "job.json").read_text())
        started_from = Path(job["model_dir"])
        assert job["config"]["max_seq_len"] == 256
        # The fork's first quest started from exactly that checkpoint's weights.
        assert hashlib.sha256((started_from / "model.safetensors").read_bytes()).hexdigest() == \
            file_sha(first, "model.safetensors")
        fork_assets = await checkpoints_of(vault, "campaigns/road-256", 1)
        assert {a.lineage.mantra_version for a in fork_assets.values()} == {3}


async def test_hero_validate_over_grpc_and_the_cli(stack_factory, tmp_path, capsys):
    async with stack_factory() as stack:
        for hero in ("qwen3-0.6b", "qwen3-4b"):  # the project's hero files, as they are
            shutil.copy(REPO / "heroes" / f"{hero}.yaml", tmp_path / "heroes" / f"{hero}.yaml")
        trainer = stack.realm.trainer
        small = await call(trainer.ValidateHero, hpb.ValidateHeroRequest(
            name="heroes/qwen3-0.6b", model_dir=str(FIXTURES / "qwen3-0.6b")))
        assert small.valid and small.smallest_fit == "24 GB" and small.parameter_count == 596_049_920
        assert (small.shape.hidden_size, small.shape.num_layers, small.shape.vocab_size) == (1024, 28, 151936)
        assert [m.name for m in small.memory] == ["weights", "gradients", "optimizer", "activations", "overhead"]

        cli = Cli(stack, tmp_path, capsys)
        code, big = await cli("hero", "validate", "qwen3-4b", "--model-dir", str(FIXTURES / "qwen3-4b"), "--json")
        assert code == 0 and big["valid"] and big["smallest_fit"] == "80 GB"
        assert big["optimizer"] == "paged_adamw_8bit" and big["gradient_checkpointing"] is True
        assert [g["name"] for g in big["gpus"] if g.get("fits")] == ["80 GB", "141 GB"]

        missing = await call(trainer.ValidateHero, hpb.ValidateHeroRequest(name="heroes/qwen3-4b"))
        assert not missing.valid and missing.findings[0].field == "model_dir"  # var/models/... is not there
        for request, status in ((hpb.ValidateHeroRequest(name="heroes/ghost"), grpc.StatusCode.NOT_FOUND),
                                (hpb.ValidateHeroRequest(name="heroes/qwen3-4b", micro_batch_size=-1),
                                 grpc.StatusCode.INVALID_ARGUMENT)):
            with pytest.raises(grpc.RpcError) as caught:
                await call(trainer.ValidateHero, request)
            assert caught.value.code() == status
