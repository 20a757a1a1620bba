"""The transfer-baseline RPCs of CurriculumService (passives.proto): proto -> Passives / IdleTasks -> proto.

A mixin of CurriculumServicer (one gRPC service holds both); `idle_tasks` is set by app.py.
"""

from __future__ import annotations

import asyncio

from realm.curriculum.v1 import passives_pb2 as ppb
from services.curriculum.idle_tasks import IdleTasks
from services.curriculum.passives import Passives, PassivesReport
from services.kit.convert import to_timestamp
from services.kit.errors import FailedPrecondition, InvalidArgument


def report_to_pb(report: PassivesReport) -> ppb.GetPassivesReportResponse:
    return ppb.GetPassivesReportResponse(
        campaign=f"campaigns/{report.campaign}", base_model=report.base_model,
        sets=[str(s) for s in report.sets], regression_threshold=report.regression_threshold,
        results=[ppb.PassiveResult(
            skill=r.measurement.skill, level=r.measurement.level, checkpoint=r.measurement.checkpoint,
            base=r.measurement.base, accuracy=r.measurement.accuracy, correct=r.measurement.correct,
            total=r.measurement.total, base_accuracy=r.base_accuracy, has_base=r.has_base, delta=r.delta,
            regression=r.regression, eval_set_hash=r.measurement.eval_set_hash,
            measure_time=to_timestamp(r.measurement.measure_time), global_step=r.measurement.global_step)
            for r in report.rows],
        skills=[ppb.PassiveSkillSummary(skill=s.skill, checkpoint=s.checkpoint, mean_delta=s.mean_delta,
                                        regression=s.regression, levels=list(s.levels)) for s in report.skills])


class PassiveRpcs:
    passives: Passives | None = None
    idle_tasks: IdleTasks | None = None

    def _idle(self) -> IdleTasks:
        if self.idle_tasks is None:
            raise FailedPrecondition("transfer baselines need an inference service (none in realm.yaml)")
        return self.idle_tasks

    async def SchedulePassives(self, request: ppb.SchedulePassivesRequest, context) -> ppb.SchedulePassivesResponse:
        if not request.campaign:
            raise InvalidArgument("name the campaign", field="campaign")
        task, sets = await asyncio.to_thread(self._idle().schedule_passives, request.campaign, request.checkpoint,
                                             base=request.base, priority=request.priority)
        return ppb.SchedulePassivesResponse(task=task, sets=sets)

    async def GetPassivesReport(self, request: ppb.GetPassivesReportRequest, context
                                ) -> ppb.GetPassivesReportResponse:
        if not request.campaign:
            raise InvalidArgument("name the campaign", field="campaign")
        if self.passives is None:
            raise FailedPrecondition("transfer baselines are not set up on this curriculum service")
        return report_to_pb(await asyncio.to_thread(self.passives.report, request.campaign))
