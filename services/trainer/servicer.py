"""TrainerService adapter: proto -> domain -> proto, nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from google.protobuf import json_format, struct_pb2

from realm.common.v1 import common_pb2
from realm.trainer.v1 import config_check_pb2 as ccpb
from realm.trainer.v1 import trainer_pb2 as pb
from realm.trainer.v1 import trainer_pb2_grpc
from services.kit.convert import enum_from_pb, enum_to_pb, from_timestamp, to_timestamp
from services.kit.errors import InvalidArgument
from services.kit.paging import paginate
from services.trainer.config_check import dry_run
from services.trainer.domain import TrainerDomain
from services.trainer.events import Event
from services.trainer.heroes import HeroSpec
from services.trainer.intake import QuestHeader
from services.trainer.lineage_rpcs import LineageRpcs
from services.trainer.loop_rpcs import LoopRpcs
from services.trainer.memory import LoraShape, ModelShape, estimate_memory
from services.trainer.models import (
    Campaign,
    CampaignState,
    EventKind,
    Milestone,
    Priority,
    Quest,
    QuestState,
    RunStatus,
)
from services.trainer.progress import HeroProgress
from services.trainer.quest_view_rpcs import QuestViewRpcs
from services.trainer.series import MetricSeries
from services.trainer.series_adapter import get_metric_series
from services.trainer.setup_rpcs import SetupRpcs, mantra_change, setup_fields_to_pb


# ---- conversions --------------------------------------------------------------------------------------------
def _struct(data: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(data)
    return message


def _enum_word(pb_enum: Any, prefix: str, number: int, field: str) -> str:
    """A proto enum as the lower-case word the memory estimate takes ("" when unset)."""
    if not number:
        return ""
    try:
        return pb_enum.Name(number).removeprefix(prefix).lower()
    except ValueError:
        raise InvalidArgument(f"unknown value {number}", field=field) from None


def hero_to_pb(hero: HeroSpec) -> pb.Hero:
    return pb.Hero(
        name=hero.name, display_name=hero.display_name, model_dir=str(hero.model_dir),
        architecture=hero.architecture, parameter_count=hero.parameter_count,
        chat_template=hero.effective_chat_template(), training_defaults=_struct(hero.config_defaults()),
        lora=pb.LoraSettings(enabled=hero.lora.enabled, rank=hero.lora.rank, alpha=hero.lora.alpha,
                             dropout=hero.lora.dropout, target_modules=list(hero.lora.target_modules),
                             quantize_base_4bit=hero.lora.quantize_base_4bit),
        idle_skills=list(hero.idle.skills), description=hero.description,
    )


def campaign_to_pb(campaign: Campaign) -> pb.Campaign:
    return setup_fields_to_pb(campaign, pb.Campaign(
        name=campaign.name, display_name=campaign.display_name, hero=campaign.hero,
        state=enum_to_pb(pb.CampaignState, "CAMPAIGN_STATE", campaign.state),
        starting_checkpoint=campaign.starting_checkpoint, config_overrides=_struct(campaign.config_overrides),
        skills=list(campaign.skills),
        milestones=[pb.Milestone(title=m.title, description=m.description, reach_time=to_timestamp(m.reach_time),
                                 global_step=m.global_step) for m in campaign.milestones],
        peak_metrics=campaign.peak_metrics, global_step=campaign.global_step,
        trained_tokens=campaign.trained_tokens, create_time=to_timestamp(campaign.create_time),
        update_time=to_timestamp(campaign.update_time),
    ))


def quest_to_pb(quest: Quest) -> pb.Quest:
    validation = None
    if quest.validation:
        validation = json_format.ParseDict(quest.validation, common_pb2.ValidationReport(), ignore_unknown_fields=True)
    return pb.Quest(
        name=quest.name, display_name=quest.display_name, campaign=quest.campaign,
        priority=enum_to_pb(pb.Priority, "PRIORITY", quest.priority),
        state=enum_to_pb(pb.QuestState, "QUEST_STATE", quest.state), position=quest.position,
        dataset_asset=quest.dataset_asset, schema_id=quest.schema_id, rows=quest.rows, bytes=quest.bytes,
        sha256=quest.sha256, validation=validation, state_reason=quest.state_reason, source=quest.source,
        labels=quest.labels, steps_done=quest.steps_done, steps_total=quest.steps_total, attempts=quest.attempts,
        create_time=to_timestamp(quest.create_time), start_time=to_timestamp(quest.start_time), end_time=to_timestamp(quest.end_time),
    )


def step_to_pb(step: dict[str, Any] | None) -> pb.StepMetrics | None:
    if not step:
        return None
    return pb.StepMetrics(
        global_step=int(step.get("global_step", 0)), quest_step=int(step.get("quest_step", 0)),
        quest_steps_total=int(step.get("quest_steps_total", 0)), loss=float(step.get("loss", 0.0)),
        learning_rate=float(step.get("learning_rate", 0.0)), grad_norm=float(step.get("grad_norm", 0.0)),
        tokens_per_second=float(step.get("tokens_per_second", 0.0)),
        trained_tokens=int(step.get("trained_tokens", 0)), eta_seconds=float(step.get("eta_seconds") or 0.0),
        memory=common_pb2.MemoryUsage(peak_bytes=int(step.get("memory_bytes", 0) or 0)),
        epoch=int(step.get("epoch", 0)),
    )


def status_to_pb(status: RunStatus) -> pb.RunStatus:
    return pb.RunStatus(
        state=enum_to_pb(pb.RunState, "RUN_STATE", status.state), campaign=status.campaign, quest=status.quest,
        last_step=step_to_pb(status.last_step), last_checkpoint=status.last_checkpoint,
        queued_quests=status.queued_quests, worker_pid=status.worker_pid, worker_restarts=status.worker_restarts,
        message=status.message, update_time=to_timestamp(status.update_time),
    )


def event_to_pb(event: Event) -> pb.Event:
    return pb.Event(
        sequence=event.sequence, kind=enum_to_pb(pb.EventKind, "EVENT_KIND", event.kind),
        time=to_timestamp(event.time),
        campaign=event.campaign, quest=event.quest, step=step_to_pb(event.step), checkpoint=event.checkpoint,
        run_state=enum_to_pb(pb.RunState, "RUN_STATE", event.run_state),
        message=event.message, attributes=event.attributes,
    )


def progress_to_pb(progress: HeroProgress) -> pb.HeroProgress:
    return pb.HeroProgress(
        campaign=progress.campaign, level=progress.level, xp=progress.xp,
        xp_for_next_level=progress.xp_for_next_level, xp_definition=progress.xp_definition,
        global_step=progress.global_step, trained_tokens=progress.trained_tokens,
        quests_completed=progress.quests_completed,
    )


def header_from_pb(header: pb.QuestHeader) -> QuestHeader:
    priority = enum_from_pb(pb.Priority, "PRIORITY", header.priority, Priority, "header.priority",
                            required=False) or Priority.NORMAL
    return QuestHeader(campaign=header.campaign, display_name=header.display_name, priority=priority,
                       schema_id=header.schema_id, sidecar_json=header.sidecar_json, labels=dict(header.labels),
                       source=header.source)


def _campaign_changes(campaign: pb.Campaign, paths: list[str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for path in paths:
        if path == "config_overrides":
            changes[path] = json_format.MessageToDict(campaign.config_overrides)
        elif path == "skills":
            changes[path] = list(campaign.skills)
        elif path == "peak_metrics":
            changes[path] = dict(campaign.peak_metrics)
        elif path == "milestones":
            changes[path] = [Milestone(title=m.title, description=m.description,
                                       reach_time=(from_timestamp(m.reach_time) if m.HasField("reach_time")
                                                   else None) or 0.0,
                                       global_step=m.global_step) for m in campaign.milestones]
        elif path in ("display_name", "starting_checkpoint"):
            changes[path] = getattr(campaign, path)
        elif path in ("mantra", "mantra.text", "mantra.rule"):
            mantra = mantra_change(campaign, path)
            previous = changes.get("mantra") or {}
            changes["mantra"] = {k: v if v is not None else previous.get(k) for k, v in mantra.items()}
        else:
            changes[path] = None  # the domain names it as not mutable
    return changes


class TrainerServicer(LineageRpcs, LoopRpcs, QuestViewRpcs, SetupRpcs, trainer_pb2_grpc.TrainerServiceServicer):
    campaign_to_pb = staticmethod(campaign_to_pb)  # for the mixins, which must not import this module

    def __init__(self, domain: TrainerDomain) -> None:
        self.domain = domain
        self.series = MetricSeries(domain.store)
        self.series.start_warming()  # the first chart after a restart comes from memory (background thread)

    # ---- heroes --------------------------------------------------------------------------------------
    async def ListHeroes(self, request, context):
        heroes = await asyncio.to_thread(self.domain.heroes.list)
        page, token = paginate(heroes, request.page_size, request.page_token)
        return pb.ListHeroesResponse(heroes=[hero_to_pb(h) for h in page], next_page_token=token)

    async def GetHero(self, request, context):
        return pb.GetHeroResponse(hero=hero_to_pb(await asyncio.to_thread(self.domain.heroes.get, request.name)))

    async def GetHeroProgress(self, request, context):
        progress = await asyncio.to_thread(self.domain.progress, request.campaign)
        return pb.GetHeroProgressResponse(progress=progress_to_pb(progress))

    # ---- campaigns -----------------------------------------------------------------------------------
    async def CreateCampaign(self, request, context):
        c = request.campaign
        campaign = await asyncio.to_thread(
            self.domain.campaigns.create, hero=c.hero, display_name=c.display_name, campaign_id=request.campaign_id,
            starting_checkpoint=c.starting_checkpoint,
            config_overrides=json_format.MessageToDict(c.config_overrides), skills=list(c.skills),
            mantra=mantra_change(c, "mantra") if c.HasField("mantra") else None,
        )
        return pb.CreateCampaignResponse(campaign=campaign_to_pb(campaign))

    async def GetCampaign(self, request, context):
        campaign = await asyncio.to_thread(self.domain.campaigns.get, request.name)
        return pb.GetCampaignResponse(campaign=campaign_to_pb(campaign))

    async def ListCampaigns(self, request, context):
        state = enum_from_pb(pb.CampaignState, "CAMPAIGN_STATE", request.state, CampaignState, "state",
                             required=False)
        campaigns, token = await asyncio.to_thread(
            self.domain.campaigns.list, hero=request.hero, state=state, page_size=request.page_size,
            page_token=request.page_token)
        return pb.ListCampaignsResponse(campaigns=[campaign_to_pb(c) for c in campaigns], next_page_token=token)

    async def UpdateCampaign(self, request, context):
        paths = list(request.update_mask.paths)
        if not paths:
            raise InvalidArgument("name the fields to change", field="update_mask")
        campaign = await asyncio.to_thread(
            self.domain.campaigns.update, request.campaign.name, _campaign_changes(request.campaign, paths))
        return pb.UpdateCampaignResponse(campaign=campaign_to_pb(campaign))

    async def ActivateCampaign(self, request, context):
        campaign = await asyncio.to_thread(self.domain.campaigns.activate, request.name)
        self.domain.controller.wake()
        return pb.ActivateCampaignResponse(campaign=campaign_to_pb(campaign))

    async def ArchiveCampaign(self, request, context):
        running = self.domain.running_campaign()  # the controller's own state: read on its loop
        campaign = await asyncio.to_thread(self.domain.campaigns.archive, request.name, running_campaign=running)
        return pb.ArchiveCampaignResponse(campaign=campaign_to_pb(campaign))

    # ---- quests --------------------------------------------------------------------------------------
    async def SubmitQuest(self, request_iterator, context):
        stream = request_iterator.__aiter__()
        try:
            first = await stream.__anext__()
        except StopAsyncIteration:
            raise InvalidArgument("the stream is empty; send the header first", field="header") from None
        if first.WhichOneof("payload") != "header":
            raise InvalidArgument("the first message must be the header", field="header")

        async def chunks() -> AsyncIterator[bytes]:
            async for message in stream:
                if message.WhichOneof("payload") != "chunk":
                    raise InvalidArgument("only chunks may follow the header", field="chunk")
                yield message.chunk

        quest = await self.domain.intake.submit(header_from_pb(first.header), chunks())
        self.domain.controller.wake()
        return pb.SubmitQuestResponse(quest=quest_to_pb(quest))

    async def ImportQuest(self, request, context):
        quest = await asyncio.to_thread(self.domain.intake.import_asset, header_from_pb(request.header),
                                        request.dataset_asset)
        self.domain.controller.wake()
        return pb.ImportQuestResponse(quest=quest_to_pb(quest))

    async def GetQuest(self, request, context):
        quest = await asyncio.to_thread(self.domain.queue.get, request.name)
        return pb.GetQuestResponse(quest=quest_to_pb(quest))

    async def ListQuests(self, request, context):
        states = [enum_from_pb(pb.QuestState, "QUEST_STATE", s, QuestState, "states") for s in request.states]
        quests, token = await asyncio.to_thread(
            self.domain.queue.list, campaign=request.campaign, states=states, page_size=request.page_size,
            page_token=request.page_token)
        return pb.ListQuestsResponse(quests=[quest_to_pb(q) for q in quests], next_page_token=token)

    async def UpdateQuest(self, request, context):
        paths = list(request.update_mask.paths)
        if not paths:
            raise InvalidArgument("name the fields to change", field="update_mask")
        changes: dict[str, Any] = {}
        for path in paths:
            if path == "priority":
                changes[path] = enum_from_pb(pb.Priority, "PRIORITY", request.quest.priority, Priority,
                                             "quest.priority")
            elif path == "labels":
                changes[path] = dict(request.quest.labels)
            elif path == "display_name":
                changes[path] = request.quest.display_name
            else:
                changes[path] = None  # the domain names it as not mutable
        quest = await asyncio.to_thread(self.domain.queue.update, request.quest.name, changes)
        return pb.UpdateQuestResponse(quest=quest_to_pb(quest))

    async def MoveQuest(self, request, context):
        quest = await asyncio.to_thread(self.domain.queue.move, request.name, before=request.before_quest,
                                        after=request.after_quest)
        return pb.MoveQuestResponse(quest=quest_to_pb(quest))

    async def DeleteQuest(self, request, context):
        await asyncio.to_thread(self.domain.queue.delete, request.name)
        return pb.DeleteQuestResponse()

    async def RetryQuest(self, request, context):
        quest = await asyncio.to_thread(self.domain.queue.retry, request.name)
        if quest.state is QuestState.VALIDATING:
            quest = await asyncio.to_thread(self.domain.intake.validate, quest)
        self.domain.controller.wake()
        return pb.RetryQuestResponse(quest=quest_to_pb(quest))

    # ---- run control ---------------------------------------------------------------------------------
    # The controller decides on the event loop (its run state lives there); its SQLite and control-file I/O
    # run in a thread (run_control.py: the *_async calls). Status reads go to a thread.
    async def PauseTraining(self, request, context):
        return pb.PauseTrainingResponse(status=status_to_pb(await self.domain.controller.pause_async(request.reason)))

    async def ResumeTraining(self, request, context):
        return pb.ResumeTrainingResponse(status=status_to_pb(await self.domain.controller.resume_async()))

    async def StopTraining(self, request, context):
        return pb.StopTrainingResponse(status=status_to_pb(await self.domain.controller.stop_async(request.reason)))

    async def SkipQuest(self, request, context):
        if not request.name:
            raise InvalidArgument("name the running quest (so a late click cannot skip the next one)", field="name")
        status = await self.domain.controller.skip_async(request.name, request.reason)
        return pb.SkipQuestResponse(status=status_to_pb(status))

    async def GetRunStatus(self, request, context):
        return pb.GetRunStatusResponse(status=status_to_pb(await asyncio.to_thread(self.domain.controller.status)))

    async def StreamEvents(self, request, context):
        kinds = [enum_from_pb(pb.EventKind, "EVENT_KIND", k, EventKind, "kinds") for k in request.kinds]
        if request.from_now and request.history_only and request.after_sequence == 0:
            raise InvalidArgument("from_now with history_only selects nothing; drop one of them", field="from_now")
        async for event in self.domain.events.follow(request.after_sequence, kinds=kinds,
                                                     history_only=request.history_only, from_now=request.from_now):
            yield pb.StreamEventsResponse(event=event_to_pb(event))

    # ---- metric series (charts) ----------------------------------------------------------------------
    async def GetMetricSeries(self, request, context):
        return await asyncio.to_thread(get_metric_series, self.series, request)

    # ---- memory --------------------------------------------------------------------------------------
    async def EstimateMemory(self, request, context):
        return await asyncio.to_thread(self._estimate, request)

    async def ValidateTrainingConfig(self, request, context):
        return await asyncio.to_thread(self._validate_config, request)

    def _validate_config(self, request: ccpb.ValidateTrainingConfigRequest) -> ccpb.ValidateTrainingConfigResponse:
        result = dry_run(self.domain.heroes, self.domain.campaigns, hero=request.hero, campaign=request.campaign,
                         overrides=json_format.MessageToDict(request.overrides))
        return ccpb.ValidateTrainingConfigResponse(
            valid=result.valid, config_hash=result.config_hash,
            problems=[ccpb.ConfigProblem(field=p.field, message=p.message, origin=p.origin) for p in result.problems],
            config=_struct(result.config.to_dict()) if result.config is not None else None)

    def _estimate(self, request: pb.EstimateMemoryRequest) -> pb.EstimateMemoryResponse:
        if request.hero:
            shape = self.domain.model_shape(request.hero, parameter_count=request.parameter_count)
        else:
            for field in ("hidden_size", "num_layers", "vocab_size", "num_attention_heads"):
                if getattr(request, field) <= 0:
                    raise InvalidArgument("must be > 0 when no hero is named", field=field)
            heads = request.num_attention_heads
            shape = ModelShape(
                hidden_size=request.hidden_size, num_layers=request.num_layers, vocab_size=request.vocab_size,
                num_attention_heads=heads, num_key_value_heads=heads, head_dim=request.hidden_size // heads,
                intermediate_size=request.intermediate_size or 4 * request.hidden_size,
                parameter_count=request.parameter_count,
            )
        precision = _enum_word(pb.Precision, "PRECISION_", request.precision, "precision") or "bf16"
        optimizer = _enum_word(pb.OptimizerKind, "OPTIMIZER_KIND_", request.optimizer, "optimizer") or "adamw"
        lora = None
        if request.lora.enabled:
            if request.lora.rank <= 0:
                raise InvalidArgument("must be > 0 when LoRA is enabled", field="lora.rank")
            modules = tuple(request.lora.target_modules) or LoraShape(rank=1).target_modules
            lora = LoraShape(rank=request.lora.rank, target_modules=modules)
            if request.lora.quantize_base_4bit:
                precision = "nf4"
        estimate = estimate_memory(
            shape, precision=precision, optimizer=optimizer, lora=lora,
            micro_batch_size=request.micro_batch_size or 1, sequence_length=request.sequence_length or 2048,
            gradient_checkpointing=request.gradient_checkpointing,
        )
        return pb.EstimateMemoryResponse(
            components=[pb.MemoryComponent(name=c.name, bytes=c.bytes, formula=c.formula)
                        for c in estimate.components],
            total_bytes=estimate.total_bytes, total_gib=estimate.total_gib,
            trainable_parameters=estimate.trainable_parameters,
        )
