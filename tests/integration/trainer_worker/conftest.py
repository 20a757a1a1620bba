"""Helpers for running the real worker process (`python -m services.trainer.worker`) in tests."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from realm_ops.tiny_hero import build_tiny_hero

REPO = Path(__file__).resolve().parents[3]


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
                "PYTHONPATH": f"{REPO}:{REPO / 'clients'}"})
    return env


@pytest.fixture(scope="session")
def hero_dir(tmp_path_factory):
    return build_tiny_hero(tmp_path_factory.mktemp("hero") / "tiny", hidden_size=64, num_layers=2, vocab_size=512)


def write_quest(path: Path, rows: int = 96, seed: int = 0) -> Path:
    """A learnable toy quest: 3-bit binary addition, some rows with a second assistant turn."""
    rng = random.Random(seed)
    with open(path, "w") as handle:
        for index in range(rows):
            a, b = rng.randrange(8), rng.randrange(8)
            messages = [{"role": "system", "content": "Add."}, {"role": "user", "content": f"{a:b} + {b:b}"},
                        {"role": "assistant", "content": f"{a + b:b}"}]
            if index % 3 == 0:
                c = rng.randrange(8)
                messages += [{"role": "user", "content": f"+ {c:b}"}, {"role": "assistant", "content": f"{a + b + c:b}"}]
            handle.write(json.dumps({"messages": messages}) + "\n")
    return path


def write_job(tmp_path: Path, hero: Path, *, resume: bool = False, name: str = "job.json", **config) -> Path:
    settings = {"max_seq_len": 96, "micro_batch_size": 4, "learning_rate": 3e-3, "seed": 1}
    settings.update(config)
    quest = tmp_path / "quest.jsonl"
    if not quest.exists():
        write_quest(quest)
    job = {"quest": "quests/q1", "campaign": "campaigns/c1", "hero": "heroes/tiny", "model_dir": str(hero),
           "dataset_path": str(quest), "run_dir": str(tmp_path / "run"), "config": settings, "resume": resume,
           "global_step_offset": 100, "trained_tokens_offset": 5000}
    path = tmp_path / name
    path.write_text(json.dumps(job))
    return path


class Worker:
    """A running worker; read its events as they come."""

    def __init__(self, job: Path, launcher: list[str] | None = None):
        command = (launcher or [sys.executable]) + ["-m", "services.trainer.worker", "--job", str(job)]
        self.stderr_path = job.with_suffix(".stderr")
        self._stderr = open(self.stderr_path, "w")  # noqa: SIM115 - closed in wait()
        self.process = subprocess.Popen(command, cwd=REPO, env=worker_env(), stdout=subprocess.PIPE,
                                        stderr=self._stderr, text=True)
        self.events: list[dict] = []

    def next_event(self) -> dict | None:
        line = self.process.stdout.readline()
        if not line:
            return None
        event = json.loads(line)  # stdout carries nothing but JSON events
        self.events.append(event)
        return event

    def until(self, predicate) -> dict:
        while (event := self.next_event()) is not None:
            if predicate(event):
                return event
        raise AssertionError(f"worker ended without the awaited event; stderr:\n{self.stderr_path.read_text()[-3000:]}")

    def wait(self, timeout: float = 120) -> int:
        while self.next_event() is not None:
            pass
        code = self.process.wait(timeout=timeout)
        self._stderr.close()
        return code


def run_to_end(job: Path, launcher: list[str] | None = None) -> tuple[int, list[dict]]:
    worker = Worker(job, launcher)
    code = worker.wait()
    return code, worker.events
