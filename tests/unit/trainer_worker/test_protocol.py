"""The trainer <-> worker protocol: one typed module both sides use (events, control words, the job file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.trainer.worker.checkpoints import publish, temp_dir_for
from services.trainer.worker.config import build_training_config
from services.trainer.worker.protocol import (
    TERMINAL_EVENT_KINDS,
    CheckpointSavedEvent,
    ControlWord,
    FailedEvent,
    Job,
    MalformedEvent,
    PausedEvent,
    StartedEvent,
    StepEvent,
    WorkerEvent,
    WorkerEventKind,
    clear_control,
    load_job,
    read_control,
    write_control,
    write_job,
)


def test_every_event_round_trips_through_its_json_line():
    events = [
        StartedEvent(quest="quests/q", campaign="campaigns/c", hero="heroes/h", quest_steps_total=6,
                     resumed_from=None, packing_efficiency=0.9),
        StepEvent(quest="quests/q", global_step=3, quest_step=3, loss=1.25, eta_seconds=None, trained_tokens=700),
        CheckpointSavedEvent(path="/r/checkpoints/step-00000003", global_step=3, loss=None),
        PausedEvent(global_step=3, quest_step=3, path=None),
        FailedEvent(error="line 2: bad", kind="InvalidArgument", retryable=False),
    ]
    for event in events:
        line = event.to_json()
        assert "\n" not in line
        assert json.loads(line)["event"] == event.KIND.value
        assert WorkerEvent.from_json(line) == event


def test_the_wire_form_names_the_kind_first_and_keeps_every_field():
    wire = StepEvent(quest="quests/q", campaign="campaigns/c", global_step=1).to_dict()
    assert list(wire)[:3] == ["event", "quest", "campaign"]
    assert {"loss", "learning_rate", "tokens_per_second", "target_tokens", "memory_bytes", "epoch"} <= set(wire)


def test_parsing_is_lenient_about_missing_and_extra_fields_but_not_about_types():
    started = WorkerEvent.from_json(json.dumps({"event": "started", "quest": "quests/q", "resumed": True}))
    assert isinstance(started, StartedEvent) and started.quest == "quests/q" and started.global_step == 0
    failed = WorkerEvent.from_json(json.dumps({"event": "failed", "error": "boom"}))
    assert isinstance(failed, FailedEvent) and failed.retryable is False
    assert WorkerEvent.from_json("not json") is None
    assert WorkerEvent.from_json("[1, 2]") is None
    assert WorkerEvent.from_json(json.dumps({"no": "event"})) is None
    with pytest.raises(MalformedEvent, match="global_step"):
        WorkerEvent.from_json(json.dumps({"event": "step", "global_step": "three"}))
    with pytest.raises(MalformedEvent, match="retryable"):
        WorkerEvent.from_json(json.dumps({"event": "failed", "retryable": "yes"}))
    with pytest.raises(MalformedEvent, match="unknown event"):
        WorkerEvent.from_json(json.dumps({"event": "exploded"}))


def test_terminal_kinds_are_exactly_the_ones_after_which_the_worker_exits():
    assert TERMINAL_EVENT_KINDS == {WorkerEventKind.COMPLETED, WorkerEventKind.PAUSED, WorkerEventKind.STOPPED,
                                    WorkerEventKind.SKIPPED, WorkerEventKind.FAILED}
    assert StepEvent().terminal is False and PausedEvent().terminal is True


def test_control_words_are_written_atomically_and_read_back(tmp_path):
    for word in ControlWord:
        write_control(tmp_path, word)
        assert read_control(tmp_path) is word
    assert not list(tmp_path.glob("*.tmp"))
    clear_control(tmp_path)
    assert read_control(tmp_path) is None


def test_the_job_is_written_and_read_by_one_code_path(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    job = Job(quest="quests/q", campaign="campaigns/c", hero="heroes/h", model_dir=Path("/m"),
              dataset_path=Path("/d.jsonl"), run_dir=run_dir, config=build_training_config({}, {"max_steps": 4}),
              global_step_offset=5, trained_tokens_offset=50, chat_template="{{ x }}")
    path = write_job(job)
    assert path == run_dir / "job.json" and load_job(path) == job
    assert job.latest_checkpoint() is None
    (job.checkpoints_dir / "step-00000009").mkdir(parents=True)  # no trainer state: not a checkpoint
    temp = temp_dir_for(job.checkpoints_dir, 7)
    (temp / "trainer_state" / "state.json").write_text("{}")
    publish(temp, job.checkpoints_dir, 7)
    assert job.latest_checkpoint() == job.checkpoints_dir / "step-00000007"
