"""The worker as the trainer service runs it: a separate process, JSON events on stdout, a control file."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from services.trainer.worker.checkpoints import complete_checkpoints, read_state

from .conftest import Worker, run_to_end, write_job

pytestmark = pytest.mark.integration

STEP_FIELDS = {"global_step", "quest_step", "quest_steps_total", "loss", "learning_rate", "grad_norm",
               "tokens_per_second", "trained_tokens", "eta_seconds", "memory_bytes", "epoch"}


def test_completes_a_learnable_quest_and_reports_honest_progress(tmp_path, hero_dir):
    code, events = run_to_end(write_job(tmp_path, hero_dir, epochs=6, checkpoint_every_steps=10))
    assert code == 0
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "completed"
    steps = [e for e in events if e["event"] == "step"]
    assert all(STEP_FIELDS <= set(e) for e in steps)
    assert [e["global_step"] for e in steps] == list(range(101, 101 + len(steps)))
    assert steps[-1]["quest_step"] == steps[-1]["quest_steps_total"] == len(steps)
    assert steps[-1]["loss"] < 0.5 * steps[0]["loss"]
    assert steps[-1]["trained_tokens"] == 5000 + events[0]["dataset_tokens"] * 6
    assert all(e["tokens_per_second"] > 0 and e["memory_bytes"] > 0 for e in steps)
    assert events[0]["mask_ratio"] < 0.5 and events[0]["packing_efficiency"] > 0.8
    final = events[-1]["path"]
    assert final.endswith(f"step-{100 + len(steps):08d}")
    # The checkpoint is a plain HF directory that answers through its own chat template.
    model = AutoModelForCausalLM.from_pretrained(final)
    tokenizer = AutoTokenizer.from_pretrained(final)
    prompt = tokenizer.apply_chat_template([{"role": "system", "content": "Add."}, {"role": "user", "content": "1 + 1"}],
                                           tokenize=False, add_generation_prompt=True)
    ids = tokenizer(prompt, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]


def _control(tmp_path, word):
    (tmp_path / "run" / "control").write_text(word + "\n")


@pytest.mark.parametrize("word", ["pause", "stop"])
def test_pause_or_stop_checkpoints_then_resume_continues(tmp_path, hero_dir, word):
    worker = Worker(write_job(tmp_path, hero_dir, max_steps=400))
    worker.until(lambda e: e["event"] == "step" and e["quest_step"] >= 3)
    _control(tmp_path, word)
    halted = worker.until(lambda e: e["event"] in ("paused", "stopped"))
    assert worker.wait() == 0
    assert halted["event"] == {"pause": "paused", "stop": "stopped"}[word]
    state = read_state(complete_checkpoints(tmp_path / "run" / "checkpoints")[-1])
    assert state["quest_step"] == halted["quest_step"] >= 3
    assert halted["path"].endswith(f"step-{100 + halted['quest_step']:08d}")

    (tmp_path / "run" / "control").unlink()
    resumed = Worker(write_job(tmp_path, hero_dir, max_steps=400, resume=True, name="job2.json"))
    started = resumed.until(lambda e: e["event"] == "started")
    assert started["quest_step"] == halted["quest_step"] and started["resumed_from"] == halted["path"]
    first = resumed.until(lambda e: e["event"] == "step")
    assert first["quest_step"] == halted["quest_step"] + 1
    assert first["trained_tokens"] > state["trained_tokens"]
    _control(tmp_path, "skip")
    assert resumed.until(lambda e: e["event"] in ("skipped", "paused", "stopped"))["event"] == "skipped"
    assert resumed.wait() == 0


def test_sigterm_pauses_with_a_checkpoint(tmp_path, hero_dir):
    worker = Worker(write_job(tmp_path, hero_dir, max_steps=400))
    worker.until(lambda e: e["event"] == "step" and e["quest_step"] >= 2)
    worker.process.send_signal(signal.SIGTERM)
    paused = worker.until(lambda e: e["event"] == "paused")
    assert worker.wait() == 0 and paused["path"]


def test_kill_9_then_resume_ends_with_the_same_loss(tmp_path, hero_dir):
    config = {"epochs": 2, "checkpoint_every_steps": 4}
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    code, reference = run_to_end(write_job(reference_dir, hero_dir, **config))
    assert code == 0
    reference_losses = {e["quest_step"]: e["loss"] for e in reference if e["event"] == "step"}

    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    worker = Worker(write_job(crash_dir, hero_dir, **config))
    worker.until(lambda e: e["event"] == "step" and e["quest_step"] == 6)
    os.kill(worker.process.pid, signal.SIGKILL)
    assert worker.wait() == -signal.SIGKILL
    saved = complete_checkpoints(crash_dir / "run" / "checkpoints")
    last = read_state(saved[-1])["quest_step"]
    assert last % 4 == 0 and last < len(reference_losses)  # killed mid-quest, after at least one checkpoint

    code, resumed = run_to_end(write_job(crash_dir, hero_dir, resume=True, name="job2.json", **config))
    assert code == 0
    assert resumed[0]["resumed_from"] == str(saved[-1])
    steps = [e for e in resumed if e["event"] == "step"]
    assert steps[0]["quest_step"] == last + 1  # the data position right after the checkpoint
    for event in steps:
        assert event["loss"] == pytest.approx(reference_losses[event["quest_step"]], rel=1e-4, abs=1e-5)
    assert resumed[-1]["event"] == "completed"
    assert resumed[-1]["loss"] == pytest.approx(reference[-1]["loss"], rel=1e-4, abs=1e-5)
    assert resumed[-1]["trained_tokens"] == reference[-1]["trained_tokens"]


def test_bad_quest_fails_before_step_one_naming_the_line(tmp_path, hero_dir):
    quest = tmp_path / "quest.jsonl"
    good = {"messages": [{"role": "user", "content": "1 + 1"}, {"role": "assistant", "content": "10"}]}
    quest.write_text(json.dumps(good) + "\n" + json.dumps({"messages": [{"role": "tool", "content": "x"}]}) + "\n")
    code, events = run_to_end(write_job(tmp_path, hero_dir))
    assert code == 2
    assert [e["event"] for e in events] == ["failed"]
    assert events[0]["error"].startswith("line 2:") and events[0]["retryable"] is False
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_bad_config_fails_with_the_field(tmp_path, hero_dir):
    code, events = run_to_end(write_job(tmp_path, hero_dir, micro_batch_size=0))
    assert code == 2 and events[0]["event"] == "failed" and events[0]["error"].startswith("micro_batch_size:")


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ddp", "fsdp"])
def test_two_process_gloo_run_matches_one_process(tmp_path, hero_dir, engine):
    # 48 examples, unpacked, 2 per micro-batch: 24 micro-batches, an even split over 2 ranks.
    # fp32: the split itself must not change the losses, and bf16 rounding differs with the batch shapes.
    config = {"packing": False, "micro_batch_size": 2, "max_steps": 8, "shuffle": True, "distributed": engine,
              "checkpoint_every_steps": 4, "precision": "fp32"}
    single_dir, ddp_dir = tmp_path / "single", tmp_path / "ddp"
    single_dir.mkdir()
    ddp_dir.mkdir()
    from .conftest import write_quest

    write_quest(single_dir / "quest.jsonl", rows=48)
    write_quest(ddp_dir / "quest.jsonl", rows=48)
    code, single = run_to_end(write_job(single_dir, hero_dir, gradient_accumulation_steps=2, **config))
    assert code == 0
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    code, ddp = run_to_end(write_job(ddp_dir, hero_dir, gradient_accumulation_steps=1, **config), torchrun)
    assert code == 0, (ddp_dir / "job.stderr").read_text()[-3000:]
    assert ddp[0]["world_size"] == 2
    single_losses = [e["loss"] for e in single if e["event"] == "step"]
    ddp_losses = [e["loss"] for e in ddp if e["event"] == "step"]
    assert len(ddp_losses) == len(single_losses) == 8
    assert ddp_losses == pytest.approx(single_losses, rel=1e-4)
    assert ddp_losses[-1] < ddp_losses[0]
    assert [e["event"] for e in ddp].count("completed") == 1  # only rank 0 reports
    final = complete_checkpoints(ddp_dir / "run" / "checkpoints")[-1]
    single_final = complete_checkpoints(single_dir / "run" / "checkpoints")[-1]
    from safetensors.torch import load_file

    a, b = load_file(final / "model.safetensors"), load_file(single_final / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert json.loads((final / "config.json").read_text())["architectures"] == ["Qwen3ForCausalLM"]

    if engine == "fsdp":
        # Resume a sharded run from its mid-quest checkpoint: the full optimizer state is re-sharded on load.
        resume_dir = tmp_path / "resume"
        (resume_dir / "run" / "checkpoints").mkdir(parents=True)
        write_quest(resume_dir / "quest.jsonl", rows=48)
        shutil.copytree(ddp_dir / "run" / "checkpoints" / "step-00000104",
                        resume_dir / "run" / "checkpoints" / "step-00000104")
        code, resumed = run_to_end(write_job(resume_dir, hero_dir, resume=True, gradient_accumulation_steps=1,
                                             **config), torchrun)
        assert code == 0, (resume_dir / "job.stderr").read_text()[-3000:]
        resumed_losses = [e["loss"] for e in resumed if e["event"] == "step"]
        assert resumed[0]["resumed_from"].endswith("step-00000104")
        assert resumed_losses == pytest.approx(ddp_losses[4:], rel=1e-4)
