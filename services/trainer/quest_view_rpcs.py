"""GetQuestPreview and EstimateQuestQueue (quest_view.proto): a quest's first rows and the queue's ETAs;
proto <- quest_preview / quest_eta, off the event loop.

A mixin of TrainerServicer (one gRPC service holds both); it reads `self.domain`.
"""

from __future__ import annotations

import asyncio
import json
import time

from google.protobuf import struct_pb2

from realm.trainer.v1 import quest_view_pb2 as qpb
from services.kit.errors import InvalidArgument, RealmError
from services.trainer.quest_eta import QueueEstimate, estimate_campaign_queue
from services.trainer.quest_preview import PreviewRow, QuestPreview, preview_quest, preview_rows_count


def preview_row_to_pb(row: PreviewRow) -> qpb.QuestPreviewRow:
    if row.row is not None:
        message = struct_pb2.Struct()
        try:
            message.update(row.row)
            return qpb.QuestPreviewRow(line=row.line, row=message)
        except (ValueError, TypeError, RecursionError):  # nested deeper than a Struct holds: show the text
            pass
        return qpb.QuestPreviewRow(line=row.line, text=json.dumps(row.row)[: 16 * 1024])
    return qpb.QuestPreviewRow(line=row.line, text=row.text, clipped=row.clipped)


def preview_to_pb(preview: QuestPreview) -> qpb.GetQuestPreviewResponse:
    return qpb.GetQuestPreviewResponse(
        quest=preview.quest, rows=[preview_row_to_pb(r) for r in preview.rows], total_rows=preview.total_rows,
        truncated=preview.truncated, max_row_bytes=preview.max_row_bytes, max_total_bytes=preview.max_total_bytes)


def queue_estimate_to_pb(estimate: QueueEstimate) -> qpb.EstimateQuestQueueResponse:
    return qpb.EstimateQuestQueueResponse(
        campaign=estimate.campaign, tokens_per_second=estimate.throughput.tokens_per_second,
        throughput_basis=estimate.throughput.basis, active=estimate.active,
        quests=[qpb.QuestEstimate(quest=e.quest, position=e.position, steps=e.steps, tokens=e.tokens,
                                  duration_seconds=e.duration_seconds, starts_in_seconds=e.starts_in_seconds,
                                  known=e.known, basis=e.basis) for e in estimate.quests])


class QuestViewRpcs:
    async def GetQuestPreview(self, request: qpb.GetQuestPreviewRequest, context) -> qpb.GetQuestPreviewResponse:
        if not request.name:
            raise InvalidArgument("name the quest (quests/{quest})", field="name")
        preview_rows_count(request.rows)  # a bad count is the caller's error before any read
        quest = await asyncio.to_thread(self.domain.queue.get, request.name)
        return preview_to_pb(await asyncio.to_thread(preview_quest, quest, request.rows))

    async def EstimateQuestQueue(self, request: qpb.EstimateQuestQueueRequest, context
                                 ) -> qpb.EstimateQuestQueueResponse:
        if not request.campaign:
            raise InvalidArgument("name the campaign (campaigns/{campaign})", field="campaign")
        try:
            estimate = await asyncio.to_thread(estimate_campaign_queue, self.domain, request.campaign,
                                               now=time.time())
        except RealmError as exc:
            if exc.field in (None, "", "name"):  # the campaign lookup: name this request's field
                raise type(exc)(exc.message, field="campaign") from None
            raise
        return queue_estimate_to_pb(estimate)
