"""Fixtures for the trainer service's unit tests: the tiny hero, a hero file, the domain on tmp_path.

Ports to other services are small in-process doubles here (the curriculum's validator, the vault's registry):
the controller and queue logic is what these tests check. Integration tests use the real servers.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from services.kit.errors import Unavailable
from services.trainer.config import ControllerSettings, TrainerConfig
from services.trainer.domain import TrainerDomain

torch.set_num_threads(1)
HERE = Path(__file__).resolve().parent
PROTOCOL_WORKER = (sys.executable, str(HERE / "protocol_worker.py"))


@pytest.fixture(scope="session")
def tiny_hero_dir(tmp_path_factory) -> Path:
    from realm_ops.tiny_hero import build_tiny_hero

    return build_tiny_hero(tmp_path_factory.mktemp("hero") / "tiny")


def write_hero(heroes_dir: Path, model_dir: Path, **extra: Any) -> Path:
    heroes_dir.mkdir(parents=True, exist_ok=True)
    doc = {
        "display_name": "Tiny Hero",
        "model_dir": str(model_dir),
        "architecture": "qwen3",
        "training_defaults": {"max_steps": 6, "checkpoint_every_steps": 2, "max_seq_len": 64,
                              "micro_batch_size": 4},
        "optimizer": {"kind": "adamw", "weight_decay": 0.0},
        **extra,
    }
    path = heroes_dir / "tiny.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


class RuleValidator:
    """Curriculum double: rejects lines that are not JSON objects with a messages list; can be 'down'."""

    def __init__(self) -> None:
        self.available = True
        self.calls = 0

    def validate(self, path: Path, *, schema_id: str, sidecar_json: str, file_name: str) -> dict[str, Any]:
        self.calls += 1
        if not self.available:
            raise Unavailable("curriculum is down")
        findings = []
        rows = 0
        for line_no, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            rows += 1
            try:
                row = json.loads(line)
                ok = isinstance(row, dict) and isinstance(row.get("messages"), list)
            except json.JSONDecodeError:
                ok = False
            if not ok:
                findings.append({"kind": "schema", "severity": "SEVERITY_ERROR", "line": line_no,
                                 "message": "not a chat_sft_v1 row"})
        return {"accepted": not findings, "schema_id": schema_id or "chat_sft_v1", "rows": rows,
                "findings": findings, "error_count": len(findings),
                "counts": [{"kind": "schema", "severity": "SEVERITY_ERROR", "count": len(findings)}] if findings else []}


class MemoryRegistry:
    """Vault double: records registrations; `available=False` makes every call fail like an unreachable vault."""

    def __init__(self) -> None:
        self.available = True
        self.assets: dict[str, dict[str, Any]] = {}
        self.aliases: dict[str, str] = {}
        self.lock = threading.Lock()

    def register(self, checkpoint_dir: Path, *, lineage: dict[str, Any], labels: dict[str, str]) -> str:
        if not self.available:
            raise Unavailable("vault is down")
        with self.lock:
            for name, asset in self.assets.items():
                if asset["labels"]["realm.checkpoint_key"] == labels["realm.checkpoint_key"]:
                    return name
            name = f"assets/ckpt-{len(self.assets) + 1}"
            self.assets[name] = {"dir": str(checkpoint_dir), "lineage": lineage, "labels": labels,
                                 "files": sorted(p.name for p in checkpoint_dir.iterdir())}
            return name

    def move_alias(self, alias: str, asset: str) -> None:
        if not self.available:
            raise Unavailable("vault is down")
        self.aliases[alias] = asset


def make_domain(tmp_path: Path, hero_dir: Path, *, validator=None, registry=None, planner=None, ledger=None, levels=None,
                **controller: Any) -> TrainerDomain:
    heroes = tmp_path / "heroes"
    if not (heroes / "tiny.yaml").exists():
        write_hero(heroes, hero_dir)
    options = TrainerConfig(
        data_root=tmp_path / "var" / "trainer",
        heroes_dir=heroes,
        project_root=tmp_path,
        controller=ControllerSettings(
            worker_command=PROTOCOL_WORKER,
            idle_poll_s=0.05,
            validation_retry_s=0.2,
            **controller,
        ),
        hero_loop_interval_s=0.1,
        outbox_retry_initial_s=0.05,
        outbox_retry_max_s=0.2,
        ledger_retry_initial_s=0.05,
        ledger_retry_max_s=0.2,
    )
    return TrainerDomain(options, validator=validator or RuleValidator(), registry=registry,
                         assets=None, planner=planner, ledger=ledger,
                         levels=levels)


# The tiny hero's max_seq_len 64 leaves no room for the default mantra's system turn (~50 tokens), which intake's
# token guard counts as the worker does: campaigns whose quests go through intake here train without a mantra.
NO_MANTRA = {"text": ""}

GOOD_ROWS = [
    {"messages": [{"role": "user", "content": f"add({i}, 1)"}, {"role": "assistant", "content": f"{i + 1}"}]}
    for i in range(8)
]


def jsonl(rows: list[Any]) -> bytes:
    return b"".join((json.dumps(r) if not isinstance(r, str) else r).encode() + b"\n" for r in rows)


async def chunks_of(data: bytes, size: int = 64):
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
def th():
    """The helpers above, as a fixture (test modules cannot import conftest under --import-mode=importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(write_hero=write_hero, RuleValidator=RuleValidator, MemoryRegistry=MemoryRegistry,
                           make_domain=make_domain, GOOD_ROWS=GOOD_ROWS, NO_MANTRA=NO_MANTRA, jsonl=jsonl, chunks_of=chunks_of)
