"""A scripted worker that speaks the trainer worker interface exactly (job.json, stdout events, control file,
atomic checkpoints, resume) without training anything: the controller's unit tests drive it so they run
in seconds. The real worker (services.trainer.worker) is exercised by tests/integration/trainer.

Behaviour knobs come from the job's config (TrainingConfig fields) and the environment:
  max_steps / checkpoint_every_steps   steps of the quest and checkpoint cadence
  PROTOCOL_WORKER_STEP_S               seconds per step (default 0.02)
  PROTOCOL_WORKER_FAIL                 "report": emit failed + exit 1 at step 1; "crash_at=N": os._exit(3)
                                       at step N on the first attempt only (a crash marker file in run_dir);
                                       "crash_always": os._exit(3) at step 1 of every attempt
  PROTOCOL_WORKER_IGNORE_CONTROL       "1": never read the control file (tests the controller's watchdog)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def save_checkpoint(run_dir: Path, step: int, quest_step: int, loss: float, trained: int) -> Path:
    final = run_dir / "checkpoints" / f"step-{step:08d}"
    temp = run_dir / "checkpoints" / f".tmp-step-{step:08d}"
    (temp / "trainer_state").mkdir(parents=True, exist_ok=True)
    (temp / "config.json").write_text("{}")
    # The real worker's layout: a checkpoint is complete once trainer_state/state.json is in it.
    (temp / "trainer_state" / "state.json").write_text(
        json.dumps({"global_step": step, "quest_step": quest_step, "loss": loss, "trained_tokens": trained})
    )
    os.replace(temp, final)
    return final


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--job", required=True)
    args = parser.parse_args()
    job = json.loads(Path(args.job).read_text())
    run_dir = Path(job["run_dir"])
    config = job["config"]
    total = int(config.get("max_steps") or 10)
    every = int(config.get("checkpoint_every_steps") or 0)
    step_s = float(os.environ.get("PROTOCOL_WORKER_STEP_S", "0.02"))
    fail = os.environ.get("PROTOCOL_WORKER_FAIL", "")
    ignore_control = os.environ.get("PROTOCOL_WORKER_IGNORE_CONTROL") == "1"
    offset, tokens_offset = int(job["global_step_offset"]), int(job["trained_tokens_offset"])

    quest_step, trained = 0, tokens_offset
    if job.get("resume"):
        checkpoints = sorted(p for p in (run_dir / "checkpoints").glob("step-*")
                             if (p / "trainer_state" / "state.json").is_file())
        if checkpoints:
            state = json.loads((checkpoints[-1] / "trainer_state" / "state.json").read_text())
            quest_step, trained = state["quest_step"], state["trained_tokens"]
    emit("started", quest=job["quest"], resumed=bool(job.get("resume")), quest_step=quest_step)
    loss = 3.0 / (1 + quest_step)
    while quest_step < total:
        control = run_dir / "control"
        word = control.read_text().strip() if control.exists() and not ignore_control else ""
        if word in ("pause", "stop"):
            path = save_checkpoint(run_dir, offset + quest_step, quest_step, loss, trained)
            emit("checkpoint_saved", path=str(path), global_step=offset + quest_step, quest_step=quest_step,
                 config_hash="cfg", tokenizer_hash="tok", chat_template_hash="tpl", loss=loss)
            emit("paused" if word == "pause" else "stopped", global_step=offset + quest_step)
            return 0
        if word == "skip":
            emit("skipped", global_step=offset + quest_step)
            return 0
        if word == "finish":
            break  # the final checkpoint and `completed`, as at the end of the quest
        time.sleep(step_s)
        quest_step += 1
        trained += 100
        loss = 3.0 / (1 + quest_step)
        if fail == "report":
            emit("failed", error="masking check failed: line 1 trains user text")
            return 1
        if fail == "crash_always":
            os._exit(3)
        marker = run_dir / "crashed-once"
        if fail.startswith("crash_at=") and quest_step == int(fail.split("=")[1]) and not marker.exists():
            marker.write_text("1")
            os._exit(3)
        emit("step", global_step=offset + quest_step, quest_step=quest_step, quest_steps_total=total, loss=loss,
             learning_rate=1e-3, grad_norm=1.0, tokens_per_second=1000.0, trained_tokens=trained,
             eta_seconds=(total - quest_step) * step_s, memory_bytes=1 << 20, epoch=0)
        if every and quest_step % every == 0 and quest_step < total:
            path = save_checkpoint(run_dir, offset + quest_step, quest_step, loss, trained)
            emit("checkpoint_saved", path=str(path), global_step=offset + quest_step, quest_step=quest_step,
                 config_hash="cfg", tokenizer_hash="tok", chat_template_hash="tpl", loss=loss)
    final = run_dir / "checkpoints" / f"step-{offset + quest_step:08d}"
    if not final.exists():  # a finish right after a cadence save: that one is the final checkpoint
        path = save_checkpoint(run_dir, offset + quest_step, quest_step, loss, trained)
        emit("checkpoint_saved", path=str(path), global_step=offset + quest_step, quest_step=quest_step,
             config_hash="cfg", tokenizer_hash="tok", chat_template_hash="tpl", loss=loss)
    emit("completed", global_step=offset + quest_step, loss=loss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
