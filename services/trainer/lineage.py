"""The lineage a checkpoint is registered with in the vault (hero, campaign, quest, step, hashes, metrics).

Built when the worker reports a checkpoint and stored with its outbox row; the outbox adds `parent_checkpoint`
(the campaign's newest confirmed asset) when it registers the row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.kit.errors import InvalidArgument
from services.kit.mantra import read_mantra_file
from services.trainer.models import Campaign, Quest
from services.trainer.worker.protocol import CheckpointSavedEvent


def checkpoint_lineage(campaign: Campaign, quest: Quest, saved: CheckpointSavedEvent) -> dict[str, Any]:
    return {
        "hero": campaign.hero,
        "campaign": campaign.name,
        "quest": quest.name,
        "source_assets": [quest.dataset_asset] if quest.dataset_asset else [],
        "global_step": saved.global_step,
        "config_hash": saved.config_hash,
        "tokenizer_hash": saved.tokenizer_hash,
        "chat_template_hash": saved.chat_template_hash,
        "metrics": {"loss": float(saved.loss)} if saved.loss is not None else {},
        **_mantra_lineage(saved.path),
    }


def _mantra_lineage(path: str | None) -> dict[str, Any]:
    """The mantra the worker wrote into the checkpoint (what it really trained with), as vault Lineage fields."""
    try:
        mantra = read_mantra_file(Path(path)) if path else None
    except InvalidArgument:
        mantra = None  # the checkpoint is still registered; serving reports the bad file when it loads it
    if mantra is None:
        return {}
    return {"mantra_text": mantra.text, "mantra_rule": mantra.rule, "mantra_version": mantra.version}
