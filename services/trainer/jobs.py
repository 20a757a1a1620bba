"""Jobs for the worker: where a quest starts from, and its run directory with job.json.

A fresh quest gets a new run_dir (runs/<quest id>) whose job starts from the campaign's newest checkpoint (local,
else the vault asset), else its starting checkpoint, else the hero. A PAUSED quest keeps its run_dir and job;
only `resume` changes, following the one "latest checkpoint" rule of the protocol.
"""

from __future__ import annotations

import dataclasses
import datetime
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.kit.errors import FailedPrecondition
from services.trainer.campaign_setup import CampaignSetupStore, current_locked_values
from services.trainer.heroes import HeroRegistry, HeroSpec
from services.trainer.models import Campaign, Quest
from services.trainer.ports import DatasetSource
from services.trainer.worker.config import TrainingConfig
from services.trainer.worker.protocol import JOB_FILE, Job, load_job, write_job


def model_dir_of_checkpoint(path: Path) -> Path:
    """A checkpoint is a HF directory at its top level (trainer state beside it); older layouts nest it."""
    return path if (path / "config.json").exists() or not (path / "model").is_dir() else path / "model"


class JobBuilder:
    def __init__(
        self,
        *,
        root: Path,
        heroes: HeroRegistry,
        assets: DatasetSource | None,
        training_config_builder: Callable[[dict[str, Any], dict[str, Any]], TrainingConfig],
        locks: CampaignSetupStore | None = None,
    ) -> None:
        self.root = root
        self.locks = locks
        self.heroes = heroes
        self.assets = assets
        self._build_config = training_config_builder
        (root / "runs").mkdir(parents=True, exist_ok=True)

    def start_model_dir(self, campaign: Campaign, hero: HeroSpec) -> Path:
        """Where a new quest starts: the campaign's newest checkpoint, else its starting checkpoint, else the hero."""
        if campaign.latest_checkpoint_dir and Path(campaign.latest_checkpoint_dir).is_dir():
            return model_dir_of_checkpoint(Path(campaign.latest_checkpoint_dir))
        remote = campaign.latest_checkpoint_asset or campaign.starting_checkpoint
        if remote:
            if self.assets is None:
                raise FailedPrecondition(f"campaign starts from {remote} but no vault is configured")
            # An asset never changes; an alias (starting_checkpoint) is pinned to what it named at the first pull.
            key = remote.replace("/", "_") if remote == campaign.latest_checkpoint_asset \
                else f"{campaign.campaign_id}-start"
            cache = self.root / "base" / key
            if not cache.is_dir():
                self.assets.fetch(remote, cache)
            return model_dir_of_checkpoint(cache)
        return hero.model_dir

    def fresh(self, campaign: Campaign, quest: Quest) -> Job:
        """A new run_dir (an old one of the same quest is removed) and its job.json."""
        if not quest.file_path:
            raise FailedPrecondition(f"{quest.name} has no quest file", field="name")
        hero = self.heroes.get(campaign.hero)
        config = self._build_config(hero.config_defaults(), campaign.config_overrides)
        if self.locks is not None:
            # The first quest locks base model, architecture, tokenizer, chat template, max_seq_len; later ones
            # must still match (a hero file edited under the campaign fails here, naming the field).
            base_model = campaign.starting_checkpoint or campaign.forked_from or str(hero.model_dir)
            self.locks.lock_or_check(
                campaign.name, campaign.campaign_id,
                current_locked_values(hero, base_model=base_model, max_seq_len=config.max_seq_len),
                latest_asset=campaign.latest_checkpoint_asset)
        run_dir = self.root / "runs" / quest.quest_id
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        job = Job(
            quest=quest.name, campaign=campaign.name, hero=hero.name,
            model_dir=self.start_model_dir(campaign, hero), dataset_path=Path(quest.file_path), run_dir=run_dir,
            config=config, resume=False, global_step_offset=campaign.global_step,
            trained_tokens_offset=campaign.trained_tokens,
            mantra=campaign.mantra, mantra_date=datetime.date.today().isoformat(),
            # The hero's own template override (empty: the tokenizer's), the one intake measured rows with.
            chat_template=hero.chat_template or None,
        )
        write_job(job)
        return job

    @staticmethod
    def existing(quest: Quest) -> Job | None:
        """The job a PAUSED quest was running, if its run_dir still holds one."""
        if not quest.run_dir or not (Path(quest.run_dir) / JOB_FILE).exists():
            return None
        return load_job(Path(quest.run_dir) / JOB_FILE)

    @staticmethod
    def resumable(job: Job) -> Job:
        """The same job, resuming from its newest complete checkpoint when it has one."""
        resumed = dataclasses.replace(job, resume=job.latest_checkpoint() is not None)
        write_job(resumed)
        return resumed
