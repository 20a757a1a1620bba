"""gRPC adapter: proto -> domain -> proto. CPU-heavy domain work runs in worker threads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from realm.common.v1 import common_pb2
from realm.curriculum.v1 import curriculum_pb2 as pb
from realm.curriculum.v1 import curriculum_pb2_grpc
from services.curriculum import evaluation as evaluation_domain
from services.curriculum import progression as prog
from services.curriculum import validation as val
from services.curriculum.domain import CurriculumDomain, GradedItem
from services.curriculum.passive_rpcs import PassiveRpcs
from services.curriculum.skills.base import EvalSet, LevelSpec, Problem, Regime, Skill, rows_to_jsonl
from services.curriculum.vote_rpcs import VoteRpcs
from services.kit.convert import to_timestamp
from services.kit.errors import FailedPrecondition, InvalidArgument
from services.kit.paging import paginate

_REGIME = {Regime.EXHAUSTIVE: pb.REGIME_EXHAUSTIVE, Regime.HELD_OUT: pb.REGIME_HELD_OUT}
_LEVELS = {common_pb2.VALIDATION_LEVEL_UNSPECIFIED: val.Level.STANDARD,
           common_pb2.VALIDATION_LEVEL_QUICK: val.Level.QUICK,
           common_pb2.VALIDATION_LEVEL_STANDARD: val.Level.STANDARD,
           common_pb2.VALIDATION_LEVEL_DEEP: val.Level.DEEP}
_LEVELS_PB = {v: k for k, v in _LEVELS.items() if k != common_pb2.VALIDATION_LEVEL_UNSPECIFIED}


def level_to_pb(spec: LevelSpec) -> pb.Level:
    return pb.Level(number=spec.number, title=spec.title, description=spec.description,
                    parameters=dict(spec.parameters), pass_threshold=spec.pass_threshold,
                    regime=_REGIME[spec.regime], problem_space_size=spec.problem_space_size)


def skill_to_pb(skill: Skill) -> pb.Skill:
    return pb.Skill(name=f"skills/{skill.name}", display_name=skill.display_name, description=skill.description,
                    levels=[level_to_pb(s) for s in skill.levels()], generator_version=skill.version)


def problem_to_pb(p: Problem) -> pb.Problem:
    return pb.Problem(id=p.id, messages=[common_pb2.ChatMessage(role=m.role, content=m.content) for m in p.prompt],
                      expected=p.expected, payload_json=json.dumps(dict(p.payload), ensure_ascii=False),
                      level=p.level)


def eval_set_to_pb(es: EvalSet) -> pb.EvalSet:
    return pb.EvalSet(name=es.name, skill=f"skills/{es.skill}", level=es.level, regime=_REGIME[es.regime],
                      content_hash=es.content_hash, version=es.version,
                      problems=[problem_to_pb(p) for p in es.problems])


def row_to_pb(row: dict[str, Any]) -> pb.TrainingRow:
    return pb.TrainingRow(messages=[common_pb2.ChatMessage(role=m["role"], content=m["content"])
                                    for m in row["messages"]],
                          metadata_json=json.dumps(row["metadata"], ensure_ascii=False))


def report_to_pb(r: val.Report) -> common_pb2.ValidationReport:
    report = common_pb2.ValidationReport(
        accepted=r.accepted, schema_id=r.schema_id, level=_LEVELS_PB[r.level], rows=r.rows, bytes=r.bytes,
        findings=[common_pb2.ValidationFinding(kind=f.kind, severity=int(f.severity), line=f.line, field=f.field,
                                               message=f.message) for f in r.findings],
        counts=[common_pb2.FindingCount(kind=k, severity=int(sev), count=n)
                for (k, sev), n in sorted(r.counts.items())],
        error_count=r.error_count, warning_count=r.warning_count, stats=r.stats,
        validator_version=val.VALIDATOR_VERSION)
    report.create_time.GetCurrentTime()
    return report


def skill_progress_to_pb(s: prog.SkillProgress) -> pb.SkillProgress:
    return pb.SkillProgress(
        skill=f"skills/{s.skill}", mastered_level=s.mastered_level, training_level=s.training_level,
        training_level_overridden=s.training_level_overridden, max_level=s.max_level, enabled=s.enabled,
        weight=s.weight,
        accuracy_history=[pb.AccuracyPoint(level=a.level, accuracy=a.accuracy, checkpoint=a.checkpoint,
                                           global_step=a.global_step, time=to_timestamp(a.time), flagged=a.flagged,
                                           flag_reason=a.flag_reason) for a in s.accuracy_history],
        progression=[pb.LevelChange(from_level=c.from_level, to_level=c.to_level, time=to_timestamp(c.time),
                                    checkpoint=c.checkpoint, mean_accuracy=c.mean_accuracy) for c in s.progression])


def campaign_progress_to_pb(p: prog.CampaignProgress) -> pb.CampaignProgress:
    return pb.CampaignProgress(campaign=f"campaigns/{p.campaign}",
                               skills=[skill_progress_to_pb(s) for s in p.skills], preset=p.preset)


_STATES = {evaluation_domain.EvalState.PENDING: pb.EVALUATION_STATE_PENDING,
           evaluation_domain.EvalState.RUNNING: pb.EVALUATION_STATE_RUNNING,
           evaluation_domain.EvalState.SUCCEEDED: pb.EVALUATION_STATE_SUCCEEDED,
           evaluation_domain.EvalState.FAILED: pb.EVALUATION_STATE_FAILED,
           evaluation_domain.EvalState.SUPERSEDED: pb.EVALUATION_STATE_SUPERSEDED}
_REGIME_BY_NAME = {r.value: _REGIME[r] for r in Regime}
WATCH_POLL_SECONDS = 5.0


def evaluation_to_pb(ev: evaluation_domain.Evaluation) -> pb.Evaluation:
    message = pb.Evaluation(
        name=ev.name, campaign=f"campaigns/{ev.campaign}", checkpoint=ev.checkpoint, state=_STATES[ev.state],
        results=[pb.SkillEvalResult(skill=f"skills/{r.skill}", level=r.level, accuracy=r.accuracy, correct=r.correct,
                                    total=r.total, regime=_REGIME_BY_NAME[r.regime], report_asset=r.report_asset,
                                    eval_set_hash=r.eval_set_hash, mean_partial_score=r.mean_partial_score)
                 for r in ev.results],
        error=ev.error, attempts=ev.attempts, problems_done=ev.problems_done, problems_total=ev.problems_total,
        create_time=to_timestamp(ev.create_time), end_time=to_timestamp(ev.end_time), full=ev.full,
        start_time=to_timestamp(ev.start_time),
        superseded_by=ev.superseded_by, trigger=ev.trigger, sparring_quest=ev.sparring_quest,
        # A retry's due time means nothing once the trial has started again.
        next_attempt_time=to_timestamp(ev.next_attempt_time) if ev.state == evaluation_domain.EvalState.PENDING
        else None)
    return message


class CurriculumServicer(VoteRpcs, PassiveRpcs, curriculum_pb2_grpc.CurriculumServiceServicer):
    def __init__(self, domain: CurriculumDomain, evaluations: evaluation_domain.EvaluationRunner | None = None
                 ) -> None:
        self.domain = domain
        self.evaluations = evaluations

    # ------------------------------------------------------------------ skills
    async def ListSkills(self, request: pb.ListSkillsRequest, context) -> pb.ListSkillsResponse:
        page, token = paginate(self.domain.registry.all(), request.page_size, request.page_token)
        return pb.ListSkillsResponse(skills=[skill_to_pb(s) for s in page], next_page_token=token)

    async def GetSkill(self, request: pb.GetSkillRequest, context) -> pb.GetSkillResponse:
        return pb.GetSkillResponse(skill=skill_to_pb(self.domain.skill(request.name)))

    async def GenerateBatch(self, request: pb.GenerateBatchRequest, context) -> pb.GenerateBatchResponse:
        batch = await asyncio.to_thread(self.domain.generate, request.skill, request.level, request.count,
                                        request.seed, request.mode, request.review_share)
        return pb.GenerateBatchResponse(rows=[row_to_pb(r) for r in batch.rows], jsonl=batch.jsonl,
                                        sidecar_json=json.dumps(batch.sidecar))

    async def StreamBatch(self, request: pb.StreamBatchRequest, context) -> AsyncIterator[pb.StreamBatchResponse]:
        sidecar = self.domain.sidecar(request.skill, request.level, request.count, request.seed, request.mode,
                                      request.review_share)
        chunks = await asyncio.to_thread(self.domain.stream, request.skill, request.level, request.count,
                                         request.seed, request.mode, request.chunk_rows, request.review_share)
        first = True
        while rows := await asyncio.to_thread(next, chunks, None):
            yield pb.StreamBatchResponse(rows=[row_to_pb(r) for r in rows], jsonl=rows_to_jsonl(rows),
                                         sidecar_json=json.dumps(sidecar) if first else "")
            first = False

    async def GetEvalSet(self, request: pb.GetEvalSetRequest, context) -> pb.GetEvalSetResponse:
        es = await asyncio.to_thread(self.domain.eval_set, request.name)
        return pb.GetEvalSetResponse(eval_set=eval_set_to_pb(es))

    # ------------------------------------------------------------------ grading
    def _graded(self, skill_name: str, items: Sequence[pb.GradeItem]) -> list[GradedItem]:
        skill = self.domain.skill(skill_name)
        resolved = []
        for i, item in enumerate(items):
            p = item.problem
            problem = self.domain.resolve_problem(skill, p.id, p.level, p.expected, p.payload_json,
                                                  [(m.role, m.content) for m in p.messages], f"items[{i}].problem")
            resolved.append((problem, item.response))
        return self.domain.grade(skill.name, resolved)

    async def Grade(self, request: pb.GradeRequest, context) -> pb.GradeResponse:
        graded = await asyncio.to_thread(self._graded, request.skill, request.items)
        results = [pb.GradeResult(problem_id=g.problem.id, correct=g.outcome.correct,
                                  partial_score=g.outcome.partial_score, parsed_answer=g.outcome.parsed_answer,
                                  reason=g.outcome.reason) for g in graded]
        n = len(results) or 1
        return pb.GradeResponse(results=results, accuracy=sum(r.correct for r in results) / n,
                                mean_partial_score=sum(r.partial_score for r in results) / n)

    async def BuildSparringRows(self, request: pb.BuildSparringRowsRequest, context) -> pb.BuildSparringRowsResponse:
        graded = await asyncio.to_thread(self._graded, request.skill, request.items)
        rows = self.domain.sparring(graded)
        return pb.BuildSparringRowsResponse(rows=[row_to_pb(r) for r in rows], jsonl=rows_to_jsonl(rows),
                                            wrong=len(rows))

    # ------------------------------------------------------------------ validation
    async def ValidateDataset(self, request_iterator, context) -> pb.ValidateDatasetResponse:
        validator: val.DatasetValidator | None = None
        async for message in request_iterator:
            kind = message.WhichOneof("payload")
            if validator is None:
                if kind != "header":
                    raise InvalidArgument("the first message must be the header", field="header")
                h = message.header
                options = val.ValidationOptions(
                    schema_id=h.schema_id, sidecar_json=h.sidecar_json, level=_LEVELS[h.level],
                    max_length=h.max_length, max_line_bytes=h.max_line_bytes or val.DEFAULT_MAX_LINE_BYTES,
                    max_file_bytes=h.max_file_bytes or val.DEFAULT_MAX_FILE_BYTES,
                    findings_per_kind=h.findings_per_kind or 20, error_thresholds=dict(h.error_thresholds),
                    file_name=h.file_name)
                validator = self.domain.validator(options)
            elif kind == "chunk":
                # Parsing is CPU work: keep the event loop free for other calls.
                await asyncio.to_thread(validator.feed, message.chunk)
            else:
                raise InvalidArgument("only the first message may be a header", field="header")
        if validator is None:
            raise InvalidArgument("no header received", field="header")
        report = await asyncio.to_thread(validator.finish)
        return pb.ValidateDatasetResponse(report=report_to_pb(report))

    # ------------------------------------------------------------------ progression
    async def GetCampaignProgress(self, request, context) -> pb.GetCampaignProgressResponse:
        progress = await asyncio.to_thread(self.domain.store.progress, request.campaign)
        return pb.GetCampaignProgressResponse(progress=campaign_progress_to_pb(progress))

    async def ConfigureCampaign(self, request, context) -> pb.ConfigureCampaignResponse:
        settings = [prog.SkillSettings(s.skill.removeprefix("skills/"), s.enabled, s.training_level_override,
                                       s.weight if s.weight else 1.0) for s in request.skills]
        preset = request.preset if request.HasField("preset") else None
        progress = await asyncio.to_thread(self.domain.store.configure, request.campaign, settings, preset)
        return pb.ConfigureCampaignResponse(progress=campaign_progress_to_pb(progress))

    async def RecordEval(self, request: pb.RecordEvalRequest, context) -> pb.RecordEvalResponse:
        loss = request.training_loss if request.HasField("training_loss") else None
        outcome = await asyncio.to_thread(self.domain.store.record_eval, request.campaign, request.skill,
                                          request.level, request.accuracy, request.checkpoint,
                                          request.global_step, loss)
        return pb.RecordEvalResponse(progress=skill_progress_to_pb(outcome.progress), leveled_up=outcome.leveled_up,
                                     flagged=outcome.flagged, flag_reason=outcome.flag_reason,
                                     window_mean_accuracy=outcome.mean_accuracy)

    async def PlanNextBatch(self, request: pb.PlanNextBatchRequest, context) -> pb.PlanNextBatchResponse:
        batches = await asyncio.to_thread(self.domain.store.plan, request.campaign, request.preset, request.count)
        return pb.PlanNextBatchResponse(batches=[
            pb.PlannedBatch(skill=f"skills/{b.skill}", level=b.level, count=b.count, seed=b.seed, reason=b.reason,
                            review_share=b.review_share)
            for b in batches])

    # ------------------------------------------------------------------ evaluations
    def _runner(self) -> evaluation_domain.EvaluationRunner:
        if self.evaluations is None:
            raise FailedPrecondition("evaluations are not configured on this curriculum service")
        return self.evaluations

    async def EvaluateCheckpoint(self, request, context) -> pb.EvaluateCheckpointResponse:
        ev = await asyncio.to_thread(self._runner().start, request.campaign, request.checkpoint,
                                     [s.removeprefix("skills/") for s in request.skills], request.full)
        return pb.EvaluateCheckpointResponse(evaluation=evaluation_to_pb(ev))

    async def GetEvaluation(self, request, context) -> pb.GetEvaluationResponse:
        ev = await asyncio.to_thread(self._runner().get, request.name)
        return pb.GetEvaluationResponse(evaluation=evaluation_to_pb(ev))

    async def ListEvaluations(self, request, context) -> pb.ListEvaluationsResponse:
        found = await asyncio.to_thread(self._runner().list, request.campaign)
        page, token = paginate(found, request.page_size, request.page_token, filters={"campaign": request.campaign})
        return pb.ListEvaluationsResponse(evaluations=[evaluation_to_pb(e) for e in page], next_page_token=token)

    async def WatchEvaluation(self, request, context) -> AsyncIterator[pb.WatchEvaluationResponse]:
        runner = self._runner()
        ev = await asyncio.to_thread(runner.get, request.name)
        yield pb.WatchEvaluationResponse(evaluation=evaluation_to_pb(ev))
        while not ev.finished:
            latest = await asyncio.to_thread(runner.wait_for_change, request.name, ev.version, WATCH_POLL_SECONDS)
            if latest.version != ev.version or latest.state != ev.state:
                yield pb.WatchEvaluationResponse(evaluation=evaluation_to_pb(latest))
            ev = latest
