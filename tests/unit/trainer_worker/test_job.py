from __future__ import annotations

import json

import pytest

from services.kit.errors import InvalidArgument
from services.trainer.worker.checkpoints import complete_checkpoints, publish, remove_partial, temp_dir_for
from services.trainer.worker.protocol import job_from_dict, load_job, read_control

JOB = {"quest": "quests/q1", "campaign": "campaigns/c1", "hero": "heroes/tiny", "model_dir": "/m",
       "dataset_path": "/d.jsonl", "run_dir": "/r", "config": {"learning_rate": 0.01}, "resume": True,
       "global_step_offset": 7, "trained_tokens_offset": 9}


def test_job_round_trips(tmp_path):
    path = tmp_path / "job.json"
    path.write_text(json.dumps(JOB))
    job = load_job(path)
    assert job.config.learning_rate == 0.01 and job.resume and job.global_step_offset == 7
    assert job.checkpoints_dir.as_posix() == "/r/checkpoints" and job.control_path.as_posix() == "/r/control"
    assert job_from_dict(job.to_dict()) == job


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"extra": 1}, "extra"),
        ({"model_dir": ""}, "model_dir"),
        ({"global_step_offset": -1}, "global_step_offset"),
        ({"resume": "yes"}, "resume"),
        ({"config": {"epochs": 0}}, "epochs"),
        ({"chat_template": 3}, "chat_template"),
    ],
)
def test_bad_jobs_name_the_field(patch, field):
    with pytest.raises(InvalidArgument) as caught:
        job_from_dict({**JOB, **patch})
    assert caught.value.field == field


def test_unreadable_job_file(tmp_path):
    with pytest.raises(InvalidArgument, match="job"):
        load_job(tmp_path / "missing.json")


def test_control_words(tmp_path):
    assert read_control(tmp_path) is None
    for word in ("pause", "stop", "skip"):
        (tmp_path / "control").write_text(f" {word.upper()}\n")
        assert read_control(tmp_path) == word
    (tmp_path / "control").write_text("explode")
    assert read_control(tmp_path) is None


def test_only_complete_checkpoints_are_listed(tmp_path):
    folder = tmp_path / "checkpoints"
    first = temp_dir_for(folder, 3)
    (first / "trainer_state" / "state.json").write_text("{}")
    publish(first, folder, 3)
    crashed = temp_dir_for(folder, 9)  # a crash mid-write leaves only a .tmp- dir
    (crashed / "trainer_state" / "state.json").write_text("{}")
    (folder / "step-00000011").mkdir()  # no state: never counted
    assert [p.name for p in complete_checkpoints(folder)] == ["step-00000003"]
    remove_partial(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["step-00000003", "step-00000011"]
