"""Forking a campaign from any checkpoint: the way to change a locked field (base model, max_seq_len, ...).

The new campaign's first quest starts from the checkpoint's weights: a vault asset or alias becomes its
starting checkpoint (fetched and cached by the job builder), a local checkpoint directory its newest checkpoint.
The source campaign's overrides, skills and mantra are copied; the new campaign is unlocked until its own first
quest starts, so it can be changed first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.trainer.campaigns import CampaignBook
from services.trainer.models import Campaign
from services.trainer.worker.checkpoints import STATE_DIR, STATE_FILE


def _alias_campaign(checkpoint: str) -> str:
    """campaigns/{c}/aliases/{alias} -> campaigns/{c}."""
    parts = checkpoint.split("/")
    if len(parts) < 4 or parts[0] != "campaigns" or parts[2] != "aliases" or not parts[1] or not parts[3]:
        raise InvalidArgument(f"expected campaigns/{{campaign}}/aliases/{{alias}}, got {checkpoint!r}",
                              field="checkpoint")
    return f"campaigns/{parts[1]}"


def _local_path(text: str, field: str) -> Path:
    """A user-given path, expanded; one that cannot name a file (NUL, unknown ~user) is the caller's error."""
    if "\x00" in text:
        raise InvalidArgument("must not contain NUL characters", field=field)
    try:
        return Path(text).expanduser()
    except RuntimeError as exc:  # "~someone" without such a user
        raise InvalidArgument(f"cannot expand {text!r}: {exc}", field=field) from None


def _local_checkpoint_campaign(path: Path) -> str:
    """The campaign a worker-written checkpoint belongs to, from its trainer_state/state.json."""
    try:
        return str(json.loads((path / STATE_DIR / STATE_FILE).read_text()).get("campaign", ""))
    except (OSError, ValueError):
        return ""


def fork_campaign(
    book: CampaignBook,
    *,
    checkpoint: str,
    campaign_id: str = "",
    display_name: str = "",
    hero: str = "",
    config_overrides: dict[str, Any] | None = None,
) -> Campaign:
    checkpoint = checkpoint.strip()
    if not checkpoint:
        raise InvalidArgument("name a checkpoint: assets/{asset}, campaigns/{c}/aliases/{alias} or a directory",
                              field="checkpoint")
    local_dir = ""
    if checkpoint.startswith("assets/"):
        source_name, recorded_dir, _ = book.setup.checkpoint_origin(checkpoint)
        if recorded_dir and (Path(recorded_dir) / "config.json").is_file():
            local_dir = recorded_dir  # still on this host: no download needed
        starting = checkpoint
    elif checkpoint.startswith("campaigns/"):
        source_name, starting = _alias_campaign(checkpoint), checkpoint
    else:
        path = _local_path(checkpoint, "checkpoint")
        if not (path / "config.json").is_file():
            raise NotFound(f"no checkpoint directory (with config.json) at {checkpoint!r}; name a vault asset "
                           "(assets/...) or alias (campaigns/c/aliases/latest) instead", field="checkpoint")
        local_dir = str(path.resolve())
        source_name, _, asset = book.setup.checkpoint_origin(local_dir)
        source_name = source_name or _local_checkpoint_campaign(path)
        # The vault copy (when registered) is where the fork starts once the local directory is trimmed.
        starting = asset

    source: Campaign | None = None
    if source_name:
        try:
            source = book.get(source_name)
        except NotFound:
            source = None  # a checkpoint of a campaign this trainer does not know (another trainer's)
    if source is not None and hero and book.heroes.get(hero).name != source.hero:
        raise FailedPrecondition(
            f"{checkpoint} was trained by {source.name} with {source.hero}, not {hero}: a checkpoint is forked with "
            "the hero it was trained from (leave hero empty)", field="hero")
    hero_name = source.hero if source is not None else hero
    if not hero_name:
        raise InvalidArgument(f"this trainer does not know which hero {checkpoint} belongs to; name it",
                              field="hero")
    overrides = {**(source.config_overrides if source else {}), **(config_overrides or {})}
    campaign = book.create(
        hero=hero_name, display_name=display_name or (f"{source.display_name} fork" if source else ""),
        campaign_id=campaign_id, starting_checkpoint=starting, config_overrides=overrides,
        skills=list(source.skills) if source else [],
    )
    if local_dir:
        book.set_latest_checkpoint_dir(campaign.name, local_dir)
    if source is not None:
        book.setup.copy_mantra(source.campaign_id, campaign.campaign_id)
    book.setup.record_fork(campaign.campaign_id, checkpoint, source.name if source else "")
    return book.get(campaign.campaign_id)
