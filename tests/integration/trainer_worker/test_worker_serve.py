"""The long-lived worker (REALM_WORKER_SERVE=1): one process for consecutive jobs, with the same results as a
fresh process per job, its stderr moved to each job's run_dir/worker.log, and EOF on stdin to end it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.trainer.worker_process import is_our_worker

from .conftest import REPO, run_to_end, worker_env, write_quest

pytestmark = pytest.mark.integration


def job_file(folder: Path, hero: Path, quest: Path, run_dir: Path, *, model_dir: Path | None = None,
             offset: int = 0) -> Path:
    job = {"quest": f"quests/{run_dir.name}", "campaign": "campaigns/c1", "hero": "heroes/tiny",
           "model_dir": str(model_dir or hero), "dataset_path": str(quest), "run_dir": str(run_dir),
           "config": {"max_seq_len": 96, "micro_batch_size": 4, "learning_rate": 3e-3, "seed": 1,
                      "checkpoint_every_steps": 0},
           "resume": False, "global_step_offset": offset, "trained_tokens_offset": 0}
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "job.json"
    path.write_text(json.dumps(job))
    return path


def read_until(process: subprocess.Popen, kinds: set[str]) -> list[dict]:
    events = []
    while line := process.stdout.readline():
        events.append(json.loads(line))
        if events[-1]["event"] in kinds:
            return events
    raise AssertionError(f"the worker ended early after {events[-3:]}")


def losses(events: list[dict]) -> list[float]:
    return [e["loss"] for e in events if e["event"] == "step"]


def test_one_process_runs_consecutive_jobs_like_fresh_processes(tmp_path, hero_dir):
    quest_a = write_quest(tmp_path / "a.jsonl", rows=48, seed=1)
    quest_b = write_quest(tmp_path / "b.jsonl", rows=48, seed=2)
    first = job_file(tmp_path, hero_dir, quest_a, tmp_path / "serve" / "qa")

    env = dict(worker_env(), REALM_WORKER_SERVE="1")
    stderr = open(first.parent / "worker.log", "ab")  # noqa: SIM115 - as the trainer opens it
    process = subprocess.Popen([sys.executable, "-m", "services.trainer.worker", "--job", str(first)], cwd=REPO,
                               env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        events_a = read_until(process, {"ready"})
        assert [e["event"] for e in events_a][-2:] == ["completed", "ready"]
        assert events_a[-1]["jobs_done"] == 1 and events_a[-1]["pid"] == process.pid
        final_a = Path(events_a[-2]["path"])

        # The next quest starts from the checkpoint the previous one ended on, as the trainer's jobs do.
        second = job_file(tmp_path, hero_dir, quest_b, tmp_path / "serve" / "qb", model_dir=final_a,
                          offset=events_a[-2]["global_step"])
        process.stdin.write(f"{second}\n")
        process.stdin.flush()
        events_b = read_until(process, {"ready"})
        assert events_b[-1]["jobs_done"] == 2
        # Its logs go to its own run_dir, which is also how a restarted trainer recognises the process.
        assert is_our_worker(process.pid, str(second.parent))
        assert not is_our_worker(process.pid, str(tmp_path / "elsewhere"))
        assert "quests/qb" in (second.parent / "worker.log").read_text()

        process.stdin.close()  # EOF: the worker exits cleanly
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        stderr.close()

    # Fresh processes per job give the same numbers: nothing of one quest leaks into the next.
    fresh_a = job_file(tmp_path, hero_dir, quest_a, tmp_path / "fresh" / "qa")
    code, fresh_events_a = run_to_end(fresh_a)
    assert code == 0
    fresh_b = job_file(tmp_path, hero_dir, quest_b, tmp_path / "fresh" / "qb",
                       model_dir=Path(fresh_events_a[-1]["path"]), offset=fresh_events_a[-1]["global_step"])
    code, fresh_events_b = run_to_end(fresh_b)
    assert code == 0
    assert losses(events_a) == losses(fresh_events_a)
    assert losses(events_b) == losses(fresh_events_b)
    assert "ready" not in {e["event"] for e in fresh_events_b}  # without REALM_WORKER_SERVE it just exits


def test_a_paused_job_ends_the_long_lived_worker(tmp_path, hero_dir):
    quest = write_quest(tmp_path / "a.jsonl", rows=48, seed=1)
    job = job_file(tmp_path, hero_dir, quest, tmp_path / "run")
    (job.parent / "control").write_text("pause")
    env = dict(worker_env(), REALM_WORKER_SERVE="1")
    process = subprocess.Popen([sys.executable, "-m", "services.trainer.worker", "--job", str(job)], cwd=REPO,
                               env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    try:
        kinds = [json.loads(line)["event"] for line in process.stdout]
        # A pause releases the device: no `ready`, the process exits without waiting for another job.
        assert kinds[-1] == "paused" and "ready" not in kinds
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert os.environ.get("REALM_WORKER_SERVE") is None  # the test's own environment is untouched
