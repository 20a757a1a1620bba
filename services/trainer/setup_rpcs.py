"""TrainerService RPCs of a campaign's setup (mantra conversions, ForkCampaign) and ValidateHero, as a servicer
mixin: proto -> domain -> proto, blocking work in a thread."""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf import json_format

from realm.trainer.v1 import campaign_setup_pb2 as spb
from realm.trainer.v1 import hero_check_pb2 as hpb
from realm.trainer.v1 import trainer_pb2 as pb
from services.kit.convert import to_timestamp
from services.kit.errors import InvalidArgument
from services.kit.mantra import RULES, Mantra
from services.trainer.forks import fork_campaign
from services.trainer.hero_check import HeroReport, validate_hero
from services.trainer.models import Campaign


def mantra_to_pb(mantra: Mantra, update_time: float) -> spb.Mantra:
    return spb.Mantra(text=mantra.text, rule=spb.MantraRule.Value(f"MANTRA_RULE_{mantra.rule.upper()}"),
                      version=mantra.version, update_time=to_timestamp(update_time) if update_time else None)


def setup_fields_to_pb(campaign: Campaign, message: pb.Campaign) -> pb.Campaign:
    """Fill the mantra, locked fields and fork origin of a Campaign message."""
    message.mantra.CopyFrom(mantra_to_pb(campaign.mantra, campaign.mantra_update_time))
    message.locked_fields.extend(spb.LockedField(field=f, value=v) for f, v in campaign.locked_fields)
    if campaign.lock_time:
        message.lock_time.CopyFrom(to_timestamp(campaign.lock_time))
    message.forked_from = campaign.forked_from
    return message


def mantra_change(campaign: pb.Campaign, path: str) -> dict[str, Any]:
    """update_mask "mantra" (text + rule; rule UNSPECIFIED keeps it), "mantra.text" or "mantra.rule"."""
    rule = ""
    if path in ("mantra", "mantra.rule") and campaign.mantra.rule:
        try:
            rule = spb.MantraRule.Name(campaign.mantra.rule).removeprefix("MANTRA_RULE_").lower()
        except ValueError:
            raise InvalidArgument(f"unknown value {campaign.mantra.rule}", field="campaign.mantra.rule") from None
        if rule not in RULES:
            raise InvalidArgument(f"must be one of {', '.join(RULES)}", field="campaign.mantra.rule")
    if path == "mantra.rule" and not rule:
        raise InvalidArgument("name the rule: MANTRA_RULE_KEEP or MANTRA_RULE_REPLACE", field="campaign.mantra.rule")
    return {"text": campaign.mantra.text if path in ("mantra", "mantra.text") else None, "rule": rule or None}


def hero_report_to_pb(report: HeroReport) -> hpb.ValidateHeroResponse:
    shape, training, estimate = report.shape, report.training, report.estimate
    config = report.config
    response = hpb.ValidateHeroResponse(
        hero=report.hero, valid=report.valid, model_dir=str(report.model_dir),
        findings=[hpb.HeroFinding(field=f.field, message=f.message, error=f.error) for f in report.findings],
        parameter_count=report.parameter_count, parameter_source=report.parameter_source,
        smallest_fit=report.smallest_fit, trainable_here=report.trainable_here,
        micro_batch_size=report.micro_batch_size, sequence_length=report.sequence_length,
        requirements=[hpb.HeroRequirement(field=r.field, package=r.package, needs_cuda=r.needs_cuda,
                                          package_installed=r.package_installed, cuda_available=r.cuda_available,
                                          message=r.message) for r in report.requirements],
        gpus=[hpb.GpuFit(name=f.gpu.name, memory_bytes=f.gpu.memory_bytes, examples=f.gpu.examples, fits=f.fits,
                         headroom_bytes=f.headroom_bytes) for f in report.fits],
    )
    if shape is not None:
        response.shape.CopyFrom(hpb.HeroShape(
            model_type=str(config.get("model_type") or ""), architectures=[str(a) for a in config.get("architectures") or []],
            hidden_size=shape.hidden_size, num_layers=shape.num_layers, num_attention_heads=shape.num_attention_heads,
            num_key_value_heads=shape.num_key_value_heads, head_dim=shape.head_dim,
            intermediate_size=shape.intermediate_size, vocab_size=shape.vocab_size,
            tie_word_embeddings=shape.tie_word_embeddings,
            max_position_embeddings=int(config.get("max_position_embeddings") or 0),
            torch_dtype=str(config.get("torch_dtype") or config.get("dtype") or "")))
    if training is not None:
        response.precision, response.optimizer = training.precision, training.optimizer
        response.gradient_checkpointing = training.gradient_checkpointing
    if estimate is not None:
        response.memory.extend(hpb.HeroMemoryLine(name=c.name, bytes=c.bytes, formula=c.formula)
                               for c in estimate.components)
        response.estimate_bytes, response.estimate_gib = estimate.total_bytes, estimate.total_gib
    return response


class SetupRpcs:
    """Mixed into TrainerServicer, which provides self.domain and the campaign_to_pb converter (as an attribute,
    so this module never imports the servicer back)."""

    async def ForkCampaign(self, request: pb.ForkCampaignRequest, context) -> pb.ForkCampaignResponse:
        campaign = await asyncio.to_thread(
            fork_campaign, self.domain.campaigns, checkpoint=request.checkpoint, campaign_id=request.campaign_id,
            display_name=request.display_name, hero=request.hero,
            config_overrides=json_format.MessageToDict(request.config_overrides))
        return pb.ForkCampaignResponse(campaign=self.campaign_to_pb(campaign))

    async def ValidateHero(self, request: hpb.ValidateHeroRequest, context) -> hpb.ValidateHeroResponse:
        if request.micro_batch_size < 0:
            raise InvalidArgument("must be >= 0", field="micro_batch_size")
        if request.sequence_length < 0:
            raise InvalidArgument("must be >= 0", field="sequence_length")
        report = await asyncio.to_thread(
            validate_hero, self.domain.heroes, request.name, model_dir=request.model_dir,
            micro_batch_size=request.micro_batch_size, sequence_length=request.sequence_length)
        return hero_report_to_pb(report)
