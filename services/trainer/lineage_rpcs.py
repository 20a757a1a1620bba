"""GetCampaignLineage (lineage.proto): proto -> lineage_report -> proto, off the event loop.

A mixin of TrainerServicer (one gRPC service holds both); it reads `self.domain`.
"""

from __future__ import annotations

import asyncio

from realm.trainer.v1 import lineage_pb2 as lpb
from services.trainer.lineage_report import CampaignLineage, read_campaign_lineage


def lineage_to_pb(report: CampaignLineage) -> lpb.GetCampaignLineageResponse:
    return lpb.GetCampaignLineageResponse(
        campaign=report.campaign,
        quests=[lpb.QuestLineage(
            quest=item.quest.name, display_name=item.quest.display_name, state=item.quest.state.value,
            source=item.quest.source, generator=item.generator, generator_version=item.generator_version,
            validator_version=item.validator_version, schema_id=item.quest.schema_id, rows=item.quest.rows,
            bytes=item.quest.bytes, sha256=item.quest.sha256, dataset_asset=item.quest.dataset_asset,
            labels=item.quest.labels,
            checkpoints=[lpb.CheckpointRef(asset=c.asset, global_step=c.global_step, state=c.state)
                         for c in item.checkpoints]) for item in report.quests],
        generators=[lpb.GeneratorLineage(
            generator=g.generator, generator_version=g.generator_version, quests=g.quests, rows=g.rows,
            checkpoints=g.checkpoints, validator_versions=list(g.validator_versions), schema_ids=list(g.schema_ids))
            for g in report.generators])


class LineageRpcs:
    async def GetCampaignLineage(self, request: lpb.GetCampaignLineageRequest, context
                                 ) -> lpb.GetCampaignLineageResponse:
        domain = self.domain
        report = await asyncio.to_thread(read_campaign_lineage, domain.campaigns, domain.queue, domain.outbox,
                                         request.campaign)
        return lineage_to_pb(report)
