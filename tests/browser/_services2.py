"""A whole realm on loopback for the Guild Hall, Oracle, Campaigns, Settings and Fleet pages: vault, curriculum,
inference (serving the tiny hero and any checkpoint on demand), trainer, warden and the gateway, each on port 0
in dependency order with the ports read back named in the settings of the next (so the warden watches them all),
in the conftest's background loop. The gateway's socket is bound first and handed to aiohttp (the warden, started
before the gateway app, needs its port); the curriculum restarts once the trainer it sends sparring quests to
listens (the trainer needs the curriculum first).

Checkpoints are real model directories (the tiny hero, one marker file added so each is its own asset) pushed to
the vault with a campaign lineage, as the trainer's outbox does; the curriculum may run trials on them.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fixtures.kit import ADMIN_TOKEN, config_dict_for_tests, with_ports

from .conftest import TRAINING_DEFAULTS, Background, restart, start_stack

SERVICES = ("vault", "curriculum", "inference", "trainer", "warden")


@dataclass
class Realm2:
    background: Background
    url: str
    admin: Any  # realm.sdk.Realm with the admin token, straight to the services
    settings: Any
    campaign: str
    tmp: Path
    hero_dir: Path
    servers: dict[str, Any]

    def stop(self, name: str) -> None:
        """Stop one service (the warden and the pages should notice)."""
        self.background.run(self.servers.pop(name).stop(0.2))

    def submit(self, data: bytes, display_name: str):
        from realm.trainer.v1 import trainer_pb2 as tpb

        def messages():
            yield tpb.SubmitQuestRequest(header=tpb.QuestHeader(campaign=self.campaign, display_name=display_name))
            yield tpb.SubmitQuestRequest(chunk=data)
        return self.admin.trainer.SubmitQuest(messages()).quest

    def push_checkpoint(self, step: int, campaign: str = "", display_name: str = "") -> Any:
        copy = self.tmp / f"ckpt-{step}"
        shutil.copytree(self.hero_dir, copy)
        (copy / "step.txt").write_text(str(step))  # content-addressed: one more file makes another asset
        return self.admin.vault.push(copy, "checkpoint", display_name=display_name or f"ckpt-{step}",
                                     lineage={"campaign": campaign or self.campaign, "global_step": step,
                                              "hero": "heroes/tiny"})


@contextlib.asynccontextmanager
async def serve_realm(tmp: Path, hero_dir: Path, *, auto_evaluate: bool):
    from aiohttp import web

    from services.curriculum.app import setup as curriculum_setup
    from services.gateway.app import create_app, make_runner
    from services.gateway.config import config_from_settings
    from services.inference.app import setup as inference_setup
    from services.kit.config import settings_from_dict
    from services.trainer.app import setup as trainer_setup
    from services.vault.app import setup as vault_setup
    from services.warden.app import setup as warden_setup

    heroes = tmp / "heroes"
    heroes.mkdir(parents=True, exist_ok=True)
    (heroes / "tiny.yaml").write_text(yaml.safe_dump({
        "display_name": "Tiny Hero", "model_dir": str(hero_dir), "architecture": "qwen3",
        # Room for the campaign's default mantra (a system turn of ~50 tokens added to every row).
        "training_defaults": {**TRAINING_DEFAULTS, "max_seq_len": 160}, "idle": {"enabled": False}}))
    raw = config_dict_for_tests(
        tmp / "var",
        trainer={"heroes_dir": str(heroes), "idle_poll_s": 0.1, "worker_env": {"OMP_NUM_THREADS": "1"}},
        inference={"max_models": 3, "max_batch_size": 4,
                   "default_model": {"id": "default", "source": "latest", "fallback": str(hero_dir)}},
        curriculum={"auto_evaluate": auto_evaluate, "eval_concurrency": 4},
        warden={"probe_interval_seconds": 0.5, "alert_after_seconds": 0})
    gateway_socket = socket.socket()  # bound here, served by aiohttp below: never released and rebound
    gateway_socket.bind(("127.0.0.1", 0))
    settings = with_ports(settings_from_dict(raw, root=tmp, env={}), {"gateway": gateway_socket.getsockname()[1]})
    servers: list[Any] = []
    try:
        settings = await start_stack(settings, servers, (
            ("vault", vault_setup), ("inference", inference_setup), ("curriculum", curriculum_setup),
            ("trainer", trainer_setup)))
        settings = await restart(settings, servers, "curriculum", curriculum_setup)
        settings = await start_stack(settings, servers, (("warden", warden_setup),))
        addresses = {name: settings.service(name).address for name in SERVICES}
        app = create_app(config_from_settings(settings, addresses, heartbeat_seconds=1.0))
        runner = make_runner(app)
        await runner.setup()
        site = web.SockSite(runner, gateway_socket)
        await site.start()
        try:
            yield settings, f"http://{settings.service('gateway').address}", {s.name: s for s in servers}
        finally:
            await runner.cleanup()
    finally:
        gateway_socket.close()
        for server in reversed(servers):
            await server.stop(0.5)

@contextlib.contextmanager
def realm2_for(tmp: Path, hero_dir: Path, *, auto_evaluate: bool = False, campaign_name: str = "Guild campaign"):
    from realm.sdk import connect
    from realm.trainer.v1 import trainer_pb2 as tpb

    background = Background()
    try:
        settings, url, servers = background.enter(serve_realm(tmp, hero_dir, auto_evaluate=auto_evaluate))
        admin = connect(settings, token=ADMIN_TOKEN)
        campaign = admin.trainer.CreateCampaign(tpb.CreateCampaignRequest(campaign=tpb.Campaign(
            display_name=campaign_name, hero="heroes/tiny", skills=["bin"]), campaign_id="guild")).campaign.name
        admin.trainer.ActivateCampaign(tpb.ActivateCampaignRequest(name=campaign))
        yield Realm2(background, url, admin, settings, campaign, tmp, hero_dir, servers)
    finally:
        background.close()
