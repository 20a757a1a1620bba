"""GetLoopTime (loop_time.proto): where a campaign's loop wall time went; proto <- loop_clock, off the event loop.

A mixin of TrainerServicer (one gRPC service holds both); it reads `self.domain`.
"""

from __future__ import annotations

import asyncio

from realm.trainer.v1 import loop_time_pb2 as lpb
from services.kit.convert import to_timestamp
from services.kit.errors import InvalidArgument, RealmError
from services.trainer.loop_clock import LoopTime, Phase


def loop_time_to_pb(loop_time: LoopTime) -> lpb.LoopTime:
    seconds = loop_time.seconds
    return lpb.LoopTime(
        campaign=loop_time.campaign, training_seconds=seconds[Phase.TRAINING],
        worker_startup_seconds=seconds[Phase.WORKER_STARTUP], checkpoint_save_seconds=seconds[Phase.CHECKPOINT_SAVE],
        waiting_for_data_seconds=seconds[Phase.WAITING_FOR_DATA], idle_seconds=seconds[Phase.IDLE],
        wall_seconds=loop_time.wall_seconds, busy_share=loop_time.busy_share, upload_seconds=loop_time.upload_seconds,
        worker_starts=loop_time.worker_starts, worker_reuses=loop_time.worker_reuses,
        since=to_timestamp(loop_time.since) if loop_time.since else None,
    )


class LoopRpcs:
    async def GetLoopTime(self, request: lpb.GetLoopTimeRequest, context) -> lpb.GetLoopTimeResponse:
        domain = self.domain
        if not request.campaign:
            raise InvalidArgument("name the campaign (campaigns/{campaign})", field="campaign")
        try:
            campaign = await asyncio.to_thread(domain.campaigns.get, request.campaign)
        except RealmError as exc:  # same status, naming this request's field
            raise type(exc)(exc.message, field="campaign") from None
        loop_time = await asyncio.to_thread(domain.controller.loop_clock.get, campaign.name)
        return lpb.GetLoopTimeResponse(loop_time=loop_time_to_pb(loop_time))
