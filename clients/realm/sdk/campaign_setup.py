"""A campaign's setup through the SDK: its mantra (base system prompt), forks from a checkpoint, hero checks.

    from realm.sdk import connect
    from realm.sdk.campaign_setup import set_mantra, fork_campaign, validate_hero
    realm = connect()
    set_mantra(realm.trainer, "campaigns/road", "Today is {date}. Answer briefly.", rule="replace")
    fork = fork_campaign(realm.trainer, "campaigns/road/aliases/latest", display_name="road 4k",
                         config_overrides={"max_seq_len": 4096})
    report = validate_hero(realm.trainer, "qwen3-0.6b")   # .smallest_fit, .estimate_gib, .findings
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import field_mask_pb2, struct_pb2

from realm.trainer.v1 import campaign_setup_pb2 as spb
from realm.trainer.v1 import hero_check_pb2 as hpb
from realm.trainer.v1 import trainer_pb2 as pb

DEFAULT_MANTRA_TEXT = "Today is {date}. You are happy. You enjoy helping others."


def _name(collection: str, value: str) -> str:
    return value if value.startswith(f"{collection}/") else f"{collection}/{value}"


def mantra_rule_value(rule: str | int) -> int:
    """"keep" / "MANTRA_RULE_KEEP" / 1 -> 1."""
    if isinstance(rule, int):
        return rule
    name = rule.upper()
    return spb.MantraRule.Value(name if name.startswith("MANTRA_RULE_") else f"MANTRA_RULE_{name}")


def set_mantra(trainer: Any, campaign: str, text: str | None = None, *, rule: str | int | None = None) -> pb.Campaign:
    """Change the campaign's mantra text and/or rule (None keeps it); returns the campaign (mantra.version moved
    when something changed). An empty text disables the mantra."""
    paths = []
    mantra = spb.Mantra()
    if text is not None:
        mantra.text = text
        paths.append("mantra.text")
    if rule is not None:
        mantra.rule = mantra_rule_value(rule)
        paths.append("mantra.rule")
    if not paths:
        return trainer.GetCampaign(pb.GetCampaignRequest(name=_name("campaigns", campaign))).campaign
    request = pb.UpdateCampaignRequest(campaign=pb.Campaign(name=_name("campaigns", campaign), mantra=mantra),
                                       update_mask=field_mask_pb2.FieldMask(paths=paths))
    return trainer.UpdateCampaign(request).campaign


def fork_campaign(trainer: Any, checkpoint: str, *, display_name: str = "", campaign_id: str = "", hero: str = "",
                  config_overrides: Mapping[str, Any] | None = None) -> pb.Campaign:
    """A new campaign whose first quest starts from `checkpoint` (assets/..., campaigns/c/aliases/x or a local
    checkpoint directory of the trainer host)."""
    overrides = struct_pb2.Struct()
    overrides.update(dict(config_overrides or {}))
    return trainer.ForkCampaign(pb.ForkCampaignRequest(
        checkpoint=checkpoint, display_name=display_name, campaign_id=campaign_id,
        hero=_name("heroes", hero) if hero else "", config_overrides=overrides)).campaign


def validate_hero(trainer: Any, hero: str, *, model_dir: str = "", micro_batch_size: int = 0,
                  sequence_length: int = 0) -> hpb.ValidateHeroResponse:
    return trainer.ValidateHero(hpb.ValidateHeroRequest(
        name=_name("heroes", hero), model_dir=model_dir, micro_batch_size=micro_batch_size,
        sequence_length=sequence_length))
