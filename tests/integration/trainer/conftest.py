"""Real servers on loopback: vault + curriculum + trainer (in-process, grpc.aio) and the real training worker.

Each server binds port 0, in dependency order; the settings of the next carry the ports read back (with_ports).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from fixtures.kit import ADMIN_TOKEN, config_dict_for_tests, with_ports
from services.kit.config import Settings, settings_from_dict
from services.kit.server import ServiceServer

torch.set_num_threads(1)

# Small and quick on a shared 2-core CPU; a quest of GOOD_ROWS trains in a few seconds with the real worker.
# max_seq_len 128: every campaign's default mantra adds a system turn (~50 tiny-hero tokens) to each row.
TRAINING_DEFAULTS = {"max_steps": 8, "checkpoint_every_steps": 4, "max_seq_len": 128, "micro_batch_size": 4,
                     "learning_rate": 0.003, "warmup_steps": 0, "seed": 1}


@pytest.fixture(scope="session")
def tiny_hero_dir(tmp_path_factory) -> Path:
    from realm_ops.tiny_hero import build_tiny_hero

    return build_tiny_hero(tmp_path_factory.mktemp("hero") / "tiny")


def stack_settings(tmp_path: Path, hero_dir: Path, *, curriculum: dict[str, Any] | None = None,
                   **trainer: Any) -> Settings:
    """Every service on port 0 (with_ports names the ports bound, as they start)."""
    heroes = tmp_path / "heroes"
    heroes.mkdir(exist_ok=True)
    (heroes / "tiny.yaml").write_text(yaml.safe_dump({
        "model_dir": str(hero_dir), "architecture": "qwen3",
        "training_defaults": {**TRAINING_DEFAULTS, **trainer.pop("training_defaults", {})},
        "idle": trainer.pop("idle", {"enabled": False}),
    }))
    section = {"heroes_dir": str(heroes), "idle_poll_s": 0.1, "validation_retry_s": 0.5,
               "outbox_retry_initial_s": 0.1, "outbox_retry_max_s": 0.5, "hero_loop_interval_s": 0.2,
               "worker_env": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, **trainer}
    raw = config_dict_for_tests(tmp_path / "var", trainer=section, curriculum=curriculum or {})
    return settings_from_dict(raw, root=tmp_path, env={})


@dataclass
class Stack:
    settings: Settings
    servers: dict[str, ServiceServer]
    realm: Any
    trainer_domain: Any

    async def stop_vault(self) -> None:
        await self.servers.pop("vault").stop(0.2)

    async def start_vault(self) -> None:
        """The vault on port 0 the first time; after stop_vault, back on the port it had (as after a restart:
        its dependants keep its address)."""
        from services.vault.app import setup as vault_setup

        await self.start("vault", vault_setup)

    async def start(self, name: str, setup, **kwargs: Any) -> ServiceServer:
        server = ServiceServer(self.settings, name, metrics_port=False)
        await setup(server, **kwargs)
        port = await server.start()
        self.servers[name] = server
        if self.settings.service(name).port != port:
            self.settings = with_ports(self.settings, {name: port})
        return server


@contextlib.asynccontextmanager
async def run_stack(tmp_path: Path, hero_dir: Path, *, trainer_in_process: bool = True,
                    curriculum: dict[str, Any] | None = None, **trainer: Any):
    from realm.sdk import connect
    from services.curriculum.app import setup as curriculum_setup
    from services.trainer.app import setup as trainer_setup

    stack = Stack(stack_settings(tmp_path, hero_dir, curriculum=curriculum, **trainer), {}, None, None)
    await stack.start_vault()
    await stack.start("curriculum", curriculum_setup)  # after the vault: its settings carry the vault's port
    if trainer_in_process:
        from services.trainer.app import build_domain

        # Built here so tests can reach the domain (e.g. drive the hero loop while training is paused).
        stack.trainer_domain = build_domain(stack.settings)
        await stack.start("trainer", trainer_setup, domain=stack.trainer_domain)
    # Without an in-process trainer its port stays 0 here: a test starting one as a child reads its port back.
    stack.realm = connect(stack.settings, token=ADMIN_TOKEN)
    try:
        yield stack
    finally:
        for name in ("trainer", "curriculum", "vault"):
            if name in stack.servers:
                await stack.servers[name].stop(0.5)


@pytest.fixture
def stack_factory(tmp_path, tiny_hero_dir):
    def make(**trainer: Any):
        return run_stack(tmp_path, tiny_hero_dir, **trainer)

    make.hero_dir = tiny_hero_dir

    return make
