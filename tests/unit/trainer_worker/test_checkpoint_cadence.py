"""checkpoint_every_seconds: a wall-time cadence beside (or instead of) checkpoint_every_steps."""

from __future__ import annotations

import hashlib
import json

from services.trainer.worker.checkpoints import complete_checkpoints
from services.trainer.worker.config import build_training_config, config_hash

from .test_recipe import make_job, run_recipe


def saved_steps(events):
    return [e["quest_step"] for e in events if e["event"] == "checkpoint_saved"]


def test_a_cadence_shorter_than_a_step_saves_after_every_step(tmp_path, tiny_hero_dir):
    job = make_job(tmp_path, tiny_hero_dir, max_steps=4, checkpoint_every_seconds=1e-6)
    outcome, events = run_recipe(job)
    assert outcome == "completed"
    assert saved_steps(events) == [1, 2, 3, 4]
    assert len(complete_checkpoints(job.checkpoints_dir)) == 4
    assert all(e["save_seconds"] >= 0 for e in events if e["event"] == "checkpoint_saved")


def test_a_long_cadence_leaves_only_the_step_cadence_and_the_final_save(tmp_path, tiny_hero_dir):
    job = make_job(tmp_path, tiny_hero_dir, max_steps=4, checkpoint_every_steps=2, checkpoint_every_seconds=86_400)
    _, events = run_recipe(job)
    assert saved_steps(events) == [2, 4]


def test_configs_that_leave_it_unset_keep_their_hash():
    # Checkpoints written before the field existed must still resume (the hash is compared on resume).
    plain = build_training_config({}, {"learning_rate": 0.003})
    assert "checkpoint_every_seconds" in plain.to_dict()
    assert config_hash(plain) != config_hash(build_training_config({}, {"learning_rate": 0.003,
                                                                        "checkpoint_every_seconds": 30}))
    before = plain.to_dict()
    for later in ("checkpoint_every_seconds", "lr_scope", "lr_decay_steps", "examples_per_step",
                  "optimizer_scope"):  # fields added after the first hash
        del before[later]  # the canonical JSON as it was hashed before these fields existed
    canonical = json.dumps(before, sort_keys=True, separators=(",", ":"))
    assert config_hash(plain) == hashlib.sha256(canonical.encode()).hexdigest()
