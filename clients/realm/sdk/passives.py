"""Transfer baselines (passives.proto): schedule a measurement as an idle task, read the gain/loss report."""

from __future__ import annotations

from realm.curriculum.v1 import passives_pb2 as pb


def campaign_name(campaign: str) -> str:
    return campaign if campaign.startswith("campaigns/") else f"campaigns/{campaign}"


def schedule_passives(realm, campaign: str, checkpoint: str, *, base: bool = False,
                      priority: int = 0) -> pb.SchedulePassivesResponse:
    """Queue the campaign's passive eval sets on `checkpoint` (base=True: it is the base model to compare with)."""
    return realm.curriculum.SchedulePassives(pb.SchedulePassivesRequest(
        campaign=campaign_name(campaign), checkpoint=checkpoint, base=base, priority=priority))


def passives_report(realm, campaign: str) -> pb.GetPassivesReportResponse:
    return realm.curriculum.GetPassivesReport(pb.GetPassivesReportRequest(campaign=campaign_name(campaign)))
