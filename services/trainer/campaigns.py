"""Campaigns: a hero's long training run. At most one campaign is ACTIVE; the controller trains its queue."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from services.kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.kit.paging import decode_offset, encode_token
from services.kit.paging import page_size as page_size_of
from services.trainer.campaign_setup import CampaignSetupStore
from services.trainer.heroes import HERO_ID_PATTERN, HeroRegistry
from services.trainer.models import (
    Campaign,
    CampaignState,
    Milestone,
    mint_id,
    resource_id,
)
from services.trainer.store import TrainerStore

MUTABLE_CAMPAIGN_FIELDS = frozenset(
    {"display_name", "starting_checkpoint", "config_overrides", "skills", "milestones", "peak_metrics", "mantra"}
)


def campaign_from_row(row: sqlite3.Row) -> Campaign:
    return Campaign(
        campaign_id=row["id"],
        display_name=row["display_name"],
        hero=row["hero"],
        state=CampaignState(row["state"]),
        starting_checkpoint=row["starting_checkpoint"],
        config_overrides=json.loads(row["overrides_json"]),
        skills=tuple(json.loads(row["skills_json"])),
        milestones=tuple(Milestone(**m) for m in json.loads(row["milestones_json"])),
        peak_metrics={k: float(v) for k, v in json.loads(row["peak_metrics_json"]).items()},
        global_step=row["global_step"],
        trained_tokens=row["trained_tokens"],
        latest_checkpoint_dir=row["latest_checkpoint_dir"],
        latest_checkpoint_asset=row["latest_checkpoint_asset"],
        create_time=row["create_time"],
        update_time=row["update_time"],
    )


class CampaignBook:
    def __init__(
        self, store: TrainerStore, heroes: HeroRegistry, *, config_builder: Callable[[dict, dict], Any] | None = None
    ) -> None:
        self.store = store
        self.heroes = heroes
        self.setup = CampaignSetupStore(store)
        # build_training_config(hero_defaults, overrides): overrides are checked when they are set.
        self.config_builder = config_builder

    def _check_overrides(self, hero_name: str, overrides: dict[str, Any]) -> None:
        if self.config_builder is not None:
            self.config_builder(self.heroes.get(hero_name).config_defaults(), overrides)

    def create(
        self,
        *,
        hero: str,
        display_name: str = "",
        campaign_id: str = "",
        starting_checkpoint: str = "",
        config_overrides: dict[str, Any] | None = None,
        skills: list[str] | tuple[str, ...] = (),
        mantra: dict[str, Any] | None = None,
    ) -> Campaign:
        hero_spec = self.heroes.get(hero)  # NotFound names the hero
        if campaign_id:
            if not HERO_ID_PATTERN.match(campaign_id):
                raise InvalidArgument(f"must match {HERO_ID_PATTERN.pattern}", field="campaign_id")
        else:
            campaign_id = mint_id(display_name or hero_spec.hero_id)
        overrides = dict(config_overrides or {})
        self._check_overrides(hero_spec.name, overrides)
        now = time.time()
        try:
            self.store.execute(
                "INSERT INTO campaigns (id, display_name, hero, state, starting_checkpoint, overrides_json, "
                "skills_json, create_time, update_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    campaign_id,
                    display_name or campaign_id,
                    hero_spec.name,
                    CampaignState.DRAFT.value,
                    starting_checkpoint,
                    json.dumps(overrides),
                    json.dumps(list(skills or hero_spec.idle.skills)),
                    now,
                    now,
                ),
            )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"campaign {campaign_id} exists", field="campaign_id") from None
        if mantra:  # a mantra given at creation is the campaign's first (version 1)
            self.setup.set_mantra(campaign_id, text=mantra.get("text"), rule=mantra.get("rule"), initial=True)
        return self.get(campaign_id)

    def get(self, name: str) -> Campaign:
        campaign_id = resource_id(name, "campaigns")
        row = self.store.query_one("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
        if row is None:
            raise NotFound(f"no campaign {campaign_id}", field="name")
        return self._with_setup(campaign_from_row(row))

    def _with_setup(self, campaign: Campaign) -> Campaign:
        setup = self.setup.get(campaign.campaign_id)
        return dataclasses.replace(
            campaign, mantra=setup.mantra, mantra_update_time=setup.mantra_update_time,
            locked_fields=setup.locked_fields, lock_time=setup.lock_time, forked_from=setup.forked_from)

    def max_seq_len_with(self, campaign: Campaign, overrides: dict[str, Any]) -> int:
        """The max_seq_len a quest of this campaign would train with under these overrides."""
        defaults = self.heroes.get(campaign.hero).config_defaults()
        if self.config_builder is not None:
            return int(self.config_builder(defaults, overrides).max_seq_len)
        return int(overrides.get("max_seq_len", defaults.get("max_seq_len", 0)))

    def list(
        self, *, hero: str = "", state: CampaignState | None = None, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[Campaign], str]:
        limit = page_size_of(page_size)
        # A token only continues the listing it came from (same filters).
        filters = {"hero": hero, "state": state.value if state else ""}
        offset = decode_offset(page_token, filters)
        clauses, params = [], []
        if hero:
            clauses.append("hero = ?")
            params.append(f"heroes/{HeroRegistry.hero_id(hero)}")
        if state is not None:
            clauses.append("state = ?")
            params.append(state.value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.store.query(
            f"SELECT * FROM campaigns {where} ORDER BY create_time, id LIMIT ? OFFSET ?",
            (*params, limit + 1, offset),
        )
        campaigns = [self._with_setup(campaign_from_row(r)) for r in rows[:limit]]
        next_token = encode_token(offset + limit, filters) if len(rows) > limit else ""
        return campaigns, next_token

    def active(self) -> Campaign | None:
        row = self.store.query_one("SELECT * FROM campaigns WHERE state = ?", (CampaignState.ACTIVE.value,))
        return self._with_setup(campaign_from_row(row)) if row else None

    def update(self, name: str, changes: dict[str, Any]) -> Campaign:
        """Apply the named mutable fields; unknown or immutable fields are refused by name."""
        campaign = self.get(name)
        # A locked field (base model, max_seq_len, ...) is FAILED_PRECONDITION with the way out, before mutability.
        self.setup.check_update(
            campaign.name, campaign.campaign_id, changes, starting_checkpoint=campaign.starting_checkpoint,
            max_seq_len_after=lambda overrides: self.max_seq_len_with(campaign, overrides),
            latest_asset=campaign.latest_checkpoint_asset)
        bad = sorted(set(changes) - MUTABLE_CAMPAIGN_FIELDS)
        if bad:
            raise InvalidArgument(
                f"not mutable: {bad}; mutable: {sorted(MUTABLE_CAMPAIGN_FIELDS)}", field="update_mask"
            )
        if campaign.state is CampaignState.ARCHIVED:
            raise FailedPrecondition(f"campaign {campaign.campaign_id} is archived", field="name")
        if "config_overrides" in changes:
            self._check_overrides(campaign.hero, dict(changes["config_overrides"]))
        columns = {
            "display_name": ("display_name", lambda v: str(v)),
            "starting_checkpoint": ("starting_checkpoint", lambda v: str(v)),
            "config_overrides": ("overrides_json", lambda v: json.dumps(dict(v))),
            "skills": ("skills_json", lambda v: json.dumps([str(s) for s in v])),
            "milestones": ("milestones_json", lambda v: json.dumps([asdict(m) for m in v])),
            "peak_metrics": ("peak_metrics_json", lambda v: json.dumps({k: float(x) for k, x in v.items()})),
        }
        with self.store.transaction() as conn:
            if "mantra" in changes:  # text and/or rule (None keeps it); the version moves when either changes
                wanted = dict(changes["mantra"] or {})
                self.setup.set_mantra(campaign.campaign_id, text=wanted.get("text"), rule=wanted.get("rule"))
            for key, value in changes.items():
                if key == "mantra":
                    continue
                column, encode = columns[key]
                conn.execute(f"UPDATE campaigns SET {column} = ? WHERE id = ?", (encode(value), campaign.campaign_id))
            conn.execute("UPDATE campaigns SET update_time = ? WHERE id = ?", (time.time(), campaign.campaign_id))
        return self.get(campaign.campaign_id)

    def activate(self, name: str) -> Campaign:
        """Make this campaign the one the controller trains; the previously active one goes back to DRAFT."""
        campaign = self.get(name)
        if campaign.state is CampaignState.ARCHIVED:
            raise FailedPrecondition(f"campaign {campaign.campaign_id} is archived", field="name")
        now = time.time()
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE campaigns SET state = ?, update_time = ? WHERE state = ? AND id != ?",
                (CampaignState.DRAFT.value, now, CampaignState.ACTIVE.value, campaign.campaign_id),
            )
            conn.execute(
                "UPDATE campaigns SET state = ?, update_time = ? WHERE id = ?",
                (CampaignState.ACTIVE.value, now, campaign.campaign_id),
            )
        return self.get(campaign.campaign_id)

    def archive(self, name: str, *, running_campaign: str = "") -> Campaign:
        campaign = self.get(name)
        if running_campaign == campaign.name:
            raise FailedPrecondition("a quest of this campaign is training; stop or skip it first", field="name")
        self.store.execute(
            "UPDATE campaigns SET state = ?, update_time = ? WHERE id = ?",
            (CampaignState.ARCHIVED.value, time.time(), campaign.campaign_id),
        )
        return self.get(campaign.campaign_id)

    def record_progress(self, campaign: str, *, global_step: int, trained_tokens: int) -> None:
        """Progress only moves forward (a resumed worker may repeat steps after its last checkpoint)."""
        self.store.execute(
            "UPDATE campaigns SET global_step = MAX(global_step, ?), trained_tokens = MAX(trained_tokens, ?), "
            "update_time = ? WHERE id = ?",
            (global_step, trained_tokens, time.time(), resource_id(campaign, "campaigns")),
        )

    def set_progress(self, campaign: str, *, global_step: int, trained_tokens: int) -> None:
        """Set progress exactly, e.g. back to a checkpoint's figures when a crashed worker resumes from it."""
        self.store.execute(
            "UPDATE campaigns SET global_step = ?, trained_tokens = ?, update_time = ? WHERE id = ?",
            (global_step, trained_tokens, time.time(), resource_id(campaign, "campaigns")),
        )

    def set_latest_checkpoint_dir(self, campaign: str, path: str) -> None:
        self.store.execute(
            "UPDATE campaigns SET latest_checkpoint_dir = ?, update_time = ? WHERE id = ?",
            (path, time.time(), resource_id(campaign, "campaigns")),
        )

    def set_latest_checkpoint_asset(self, campaign: str, asset: str) -> None:
        self.store.execute(
            "UPDATE campaigns SET latest_checkpoint_asset = ?, update_time = ? WHERE id = ?",
            (asset, time.time(), resource_id(campaign, "campaigns")),
        )

    def add_milestone(self, campaign: str, milestone: Milestone) -> None:
        current = self.get(campaign)
        self.update(campaign, {"milestones": [*current.milestones, milestone]})
