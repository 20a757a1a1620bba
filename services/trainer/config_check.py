"""Dry-run of a training config: every error at once, before anything starts.

`build_training_config` stops at the first bad value (right for a run about to start); a person editing a config
wants the whole list. This walks the same rules key by key — the hero's defaults, the campaign's overrides, then
the overrides being tried — and collects one Problem per bad key, naming where the value came from. Only when
every key is fine are the cross-field rules (TrainingConfig.__post_init__) checked, so the resolved config shown
is exactly the one a quest would train with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from services.kit.errors import InvalidArgument, RealmError
from services.trainer.worker.config import (
    TrainingConfig,
    _check_field,
    _coerce,
    _flatten,
    build_training_config,
    config_hash,
)

_FIELDS = {spec.name: spec for spec in dataclasses.fields(TrainingConfig)}


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    # "hero defaults", "campaign overrides", "overrides" (the values tried), "hero", "campaign" or "config".
    origin: str


@dataclass(frozen=True)
class CheckResult:
    problems: tuple[Problem, ...]
    config: TrainingConfig | None

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def config_hash(self) -> str:
        return config_hash(self.config) if self.config is not None else ""


def _flat_layer(values: dict[str, Any] | None, origin: str, problems: list[Problem]) -> dict[str, tuple[Any, str]]:
    """One layer's keys mapped onto config fields, each bad key reported instead of stopping at the first."""
    flat: dict[str, tuple[Any, str]] = {}
    pieces = []
    for key, value in (values or {}).items():
        if key == "lora" and isinstance(value, dict):  # each LoRA key on its own, too
            pieces += [{"lora": {sub: item}} for sub, item in value.items()]
        else:
            pieces.append({key: value})
    for piece in pieces:
        key = next(iter(piece))
        try:
            for name, item in _flatten(piece, origin).items():
                flat[name] = (item, origin)
        except InvalidArgument as exc:
            problems.append(Problem(exc.field or key, exc.message, origin))
    return flat


def check_training_config(layers: list[tuple[str, dict[str, Any] | None]]) -> CheckResult:
    """`layers`: (origin, values) from the base to the top, e.g. hero defaults, campaign overrides, overrides."""
    problems: list[Problem] = []
    merged: dict[str, tuple[Any, str]] = {}
    for origin, values in layers:
        merged.update(_flat_layer(values, origin, problems))
    for name, (value, origin) in merged.items():
        try:
            _check_field(_FIELDS[name], _coerce(name, value))
        except InvalidArgument as exc:
            problems.append(Problem(exc.field or name, exc.message, origin))
    if problems:
        return CheckResult(tuple(problems), None)
    try:
        config = build_training_config({}, {name: value for name, (value, _) in merged.items()})
    except InvalidArgument as exc:  # a cross-field rule, e.g. min_mask_ratio <= max_mask_ratio
        return CheckResult((Problem(exc.field or "", exc.message, "config"),), None)
    return CheckResult((), config)


def dry_run(heroes, campaigns, *, hero: str = "", campaign: str = "",
            overrides: dict[str, Any] | None = None) -> CheckResult:
    """Resolve the layers of a hero (HeroRegistry) and a campaign (CampaignBook) and check them all.

    An unknown hero or campaign is one more problem in the list, not an error that hides the others."""
    if not hero and not campaign:
        raise InvalidArgument("name a hero or a campaign whose config to check", field="hero")
    problems: list[Problem] = []
    campaign_overrides: dict[str, Any] = {}
    if campaign:
        try:
            found = campaigns.get(campaign)
            campaign_overrides = dict(found.config_overrides)
            hero = hero or found.hero
        except RealmError as exc:
            problems.append(Problem("campaign", exc.message, "campaign"))
    hero_defaults: dict[str, Any] = {}
    if hero:
        try:
            hero_defaults = heroes.get(hero).config_defaults()
        except RealmError as exc:
            problems.append(Problem("hero", exc.message, "hero"))
    result = check_training_config([("hero defaults", hero_defaults), ("campaign overrides", campaign_overrides),
                                    ("overrides", overrides)])
    if problems:
        return CheckResult((*problems, *result.problems), None)
    return result
