"""The job file the trainer service hands to a worker process (see README.md in this folder)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.kit.errors import InvalidArgument
from services.trainer.worker.config import TrainingConfig, build_training_config

CONTROL_FILE = "control"
CHECKPOINTS_DIR = "checkpoints"
CONTROL_WORDS = ("pause", "stop", "skip")


@dataclass(frozen=True)
class Job:
    quest: str
    campaign: str
    hero: str
    model_dir: Path
    dataset_path: Path
    run_dir: Path
    config: TrainingConfig
    resume: bool = False
    # Campaign totals before this quest started; on a resume pass the same values again.
    global_step_offset: int = 0
    trained_tokens_offset: int = 0
    # Optional: a chat template that replaces the tokenizer's (a hero YAML may set one); saved in checkpoints.
    chat_template: str | None = None

    @property
    def checkpoints_dir(self) -> Path:
        return self.run_dir / CHECKPOINTS_DIR

    @property
    def control_path(self) -> Path:
        return self.run_dir / CONTROL_FILE

    def to_dict(self) -> dict[str, Any]:
        return {
            "quest": self.quest,
            "campaign": self.campaign,
            "hero": self.hero,
            "model_dir": str(self.model_dir),
            "dataset_path": str(self.dataset_path),
            "run_dir": str(self.run_dir),
            "config": self.config.to_dict(),
            "resume": self.resume,
            "global_step_offset": self.global_step_offset,
            "trained_tokens_offset": self.trained_tokens_offset,
            **({"chat_template": self.chat_template} if self.chat_template else {}),
        }


def job_from_dict(data: dict[str, Any]) -> Job:
    if not isinstance(data, dict):
        raise InvalidArgument("the job must be a JSON object", field="job")
    known = {"quest", "campaign", "hero", "model_dir", "dataset_path", "run_dir", "config", "resume",
             "global_step_offset", "trained_tokens_offset", "chat_template"}
    for key in data:
        if key not in known:
            raise InvalidArgument("unknown job key", field=key)
    for key in ("model_dir", "dataset_path", "run_dir"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise InvalidArgument("must be a non-empty path", field=key)
    for key in ("global_step_offset", "trained_tokens_offset"):
        value = data.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgument(f"must be an integer >= 0, got {value!r}", field=key)
    if data.get("chat_template") is not None and not isinstance(data["chat_template"], str):
        raise InvalidArgument("must be a string (a Jinja chat template)", field="chat_template")
    if not isinstance(data.get("resume", False), bool):
        raise InvalidArgument("must be true or false", field="resume")
    return Job(
        quest=str(data.get("quest", "")),
        campaign=str(data.get("campaign", "")),
        hero=str(data.get("hero", "")),
        model_dir=Path(data["model_dir"]),
        dataset_path=Path(data["dataset_path"]),
        run_dir=Path(data["run_dir"]),
        config=build_training_config({}, data.get("config") or {}),
        resume=data.get("resume", False),
        global_step_offset=data.get("global_step_offset", 0),
        trained_tokens_offset=data.get("trained_tokens_offset", 0),
        chat_template=data.get("chat_template") or None,
    )


def load_job(path: Path) -> Job:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"cannot read the job file: {exc}", field="job") from None
    return job_from_dict(data)


def read_control(run_dir: Path) -> str | None:
    """The controller's request ("pause" | "stop" | "skip"), or None; an unknown word is ignored."""
    try:
        word = (run_dir / CONTROL_FILE).read_text().strip().lower()
    except FileNotFoundError:
        return None
    return word if word in CONTROL_WORDS else None
