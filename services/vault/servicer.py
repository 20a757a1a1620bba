"""gRPC adapter: proto -> domain -> proto. Blocking domain work runs in worker threads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from realm.vault.v1 import vault_pb2 as pb
from realm.vault.v1 import vault_pb2_grpc
from services.kit.convert import from_duration, int_enum_from_pb, to_duration, to_timestamp
from services.kit.errors import InvalidArgument
from services.vault import models as m
from services.vault.domain import VaultDomain

WRITE_BATCH_BYTES = 1024 * 1024
MIN_CHUNK, MAX_CHUNK = 4 * 1024, 4 * 1024 * 1024
WATCH_BATCH = 500
WATCH_IDLE_RECHECK_S = 30.0


def lineage_from_pb(lineage: pb.Lineage) -> m.Lineage:
    return m.Lineage(lineage.hero, lineage.campaign, tuple(lineage.source_assets), lineage.parent_checkpoint,
                     lineage.global_step, lineage.config_hash, lineage.base_model_digest, lineage.tokenizer_hash,
                     lineage.chat_template_hash, dict(lineage.metrics), lineage.quest, lineage.mantra_text,
                     lineage.mantra_rule, lineage.mantra_version)


def lineage_to_pb(lineage: m.Lineage) -> pb.Lineage:
    return pb.Lineage(hero=lineage.hero, campaign=lineage.campaign, source_assets=lineage.source_assets,
                      parent_checkpoint=lineage.parent_checkpoint, global_step=lineage.global_step,
                      config_hash=lineage.config_hash, base_model_digest=lineage.base_model_digest,
                      tokenizer_hash=lineage.tokenizer_hash, chat_template_hash=lineage.chat_template_hash,
                      metrics=lineage.metrics, quest=lineage.quest, mantra_text=lineage.mantra_text,
                      mantra_rule=lineage.mantra_rule, mantra_version=lineage.mantra_version)


def asset_to_pb(a: m.Asset) -> pb.Asset:
    return pb.Asset(
        name=a.name, kind=int(a.kind), state=int(a.state), display_name=a.display_name,
        files=[pb.AssetFile(path=f.path, size_bytes=f.size_bytes, sha256=f.sha256) for f in a.files],
        manifest_digest=a.manifest_digest, size_bytes=a.size_bytes, zones=a.zones, labels=a.labels,
        lineage=lineage_to_pb(a.lineage), pinned=a.pinned, aliases=a.aliases, eval_count=a.eval_count,
        create_time=to_timestamp(a.create_time), verify_time=to_timestamp(a.verify_time), in_place=a.in_place)


def upload_to_pb(u: m.Upload) -> pb.Upload:
    return pb.Upload(name=u.name, asset=u.asset, committed=u.committed, files=[progress_to_pb(f) for f in u.files])


def progress_to_pb(f: m.FileProgress) -> pb.FileProgress:
    return pb.FileProgress(path=f.path, size_bytes=f.size_bytes, received_bytes=f.received_bytes,
                           already_stored=f.already_stored)


def alias_to_pb(a: m.Alias) -> pb.Alias:
    return pb.Alias(name=a.name, asset=a.asset, system=a.system, metric=a.metric, metric_value=a.metric_value,
                    direction=int(a.direction), update_time=to_timestamp(a.update_time))


def eval_to_pb(e: m.Eval | None) -> pb.Eval | None:
    if e is None:
        return None
    return pb.Eval(name=e.name, asset=e.asset, skill=e.skill, level=e.level, accuracy=e.accuracy, correct=e.correct,
                   total=e.total, report_asset=e.report_asset, regime=e.regime, eval_set_hash=e.eval_set_hash,
                   metrics=e.metrics, create_time=to_timestamp(e.create_time))


def event_to_pb(e: m.LedgerEvent) -> pb.LedgerEvent:
    return pb.LedgerEvent(sequence=e.sequence, kind=int(e.kind), time=to_timestamp(e.time), asset=e.asset,
                          campaign=e.campaign, hero=e.hero, asset_kind=int(e.asset_kind), alias=e.alias,
                          message=e.message, attributes=e.attributes)


def policy_to_pb(p: m.RetentionPolicy) -> pb.RetentionPolicy:
    return pb.RetentionPolicy(campaign=p.campaign, keep_latest=p.keep_latest,
                              keep_best_per_skill=p.keep_best_per_skill, keep_pinned=p.keep_pinned,
                              keep_newer_than=to_duration(p.keep_newer_than_s), min_evals_before_delete=p.min_evals_before_delete,
                              zone_byte_caps=p.zone_byte_caps, enabled=p.enabled)


def bucket_to_pb(b: m.StatsBucket) -> pb.StatsBucket:
    return pb.StatsBucket(key=b.key, assets=b.assets, files=b.files, logical_bytes=b.logical_bytes,
                          stored_bytes=b.stored_bytes)


class VaultServicer(vault_pb2_grpc.VaultServiceServicer):
    def __init__(self, domain: VaultDomain) -> None:
        self.domain = domain

    # -- uploads ------------------------------------------------------------------------------------------
    async def CreateUpload(self, request: pb.CreateUploadRequest, context) -> pb.CreateUploadResponse:
        upload = await asyncio.to_thread(
            self.domain.create_upload, kind=request.kind,
            files=[m.AssetFile(f.path, f.size_bytes, f.sha256) for f in request.files],
            lineage=lineage_from_pb(request.lineage), labels=dict(request.labels), zone=request.zone,
            display_name=request.display_name, request_id=request.request_id)
        return pb.CreateUploadResponse(upload=upload_to_pb(upload))

    async def WriteUpload(self, request_iterator: AsyncIterator[pb.WriteUploadRequest], context
                          ) -> pb.WriteUploadResponse:
        first = await anext(aiter(request_iterator), None)
        if first is None or not first.HasField("header"):
            raise InvalidArgument("the first message must carry the header", field="header")
        header = first.header
        writer = await asyncio.to_thread(self.domain.open_writer, header.upload, header.path, header.offset)
        # Pipelined: the next batch is received while the previous one is hashed and written (in order).
        in_flight: asyncio.Future | None = None
        try:
            batch: list[bytes] = []
            pending = 0
            async for message in request_iterator:
                if message.HasField("header"):
                    raise InvalidArgument("only the first message may carry a header", field="header")
                batch.append(message.chunk)
                pending += len(message.chunk)
                if pending >= WRITE_BATCH_BYTES:
                    data, batch, pending = b"".join(batch) if len(batch) > 1 else batch[0], [], 0
                    if in_flight is not None:
                        await in_flight
                    in_flight = asyncio.ensure_future(asyncio.to_thread(writer.write, data))
            if in_flight is not None:
                await in_flight
                in_flight = None
            if batch:
                await asyncio.to_thread(writer.write, b"".join(batch))
        finally:
            if in_flight is not None:  # broken stream: let the last write land before recording progress
                await asyncio.shield(asyncio.wait([in_flight]))
            # Runs on a broken stream too: what arrived is made durable so the client can resume from it.
            progress = await asyncio.shield(asyncio.to_thread(writer.close))
        return pb.WriteUploadResponse(file=progress_to_pb(progress))

    async def GetUpload(self, request, context) -> pb.GetUploadResponse:
        return pb.GetUploadResponse(upload=upload_to_pb(await asyncio.to_thread(self.domain.get_upload, request.name)))

    async def CommitUpload(self, request, context) -> pb.CommitUploadResponse:
        asset = await asyncio.to_thread(self.domain.commit_upload, request.name)
        return pb.CommitUploadResponse(asset=asset_to_pb(asset))

    async def AbortUpload(self, request, context) -> pb.AbortUploadResponse:
        await asyncio.to_thread(self.domain.abort_upload, request.name)
        return pb.AbortUploadResponse()

    async def RegisterInPlace(self, request, context) -> pb.RegisterInPlaceResponse:
        asset = await asyncio.to_thread(
            self.domain.register_in_place, zone=request.zone, path=request.path, kind=request.kind,
            display_name=request.display_name, lineage=lineage_from_pb(request.lineage), labels=dict(request.labels))
        return pb.RegisterInPlaceResponse(asset=asset_to_pb(asset))

    async def DownloadFile(self, request, context) -> AsyncIterator[pb.DownloadFileResponse]:
        if request.chunk_size < 0:
            raise InvalidArgument("must be >= 0", field="chunk_size")
        chunk = min(max(request.chunk_size or self.domain.config.chunk_bytes, MIN_CHUNK), MAX_CHUNK)
        download = await asyncio.to_thread(self.domain.open_download, request.asset, request.path, request.offset)
        # Read-ahead: the next chunk is read from disk while the current one is being sent.
        next_read = asyncio.ensure_future(asyncio.to_thread(download.handle.read, chunk))
        try:
            offset, first = download.offset, True
            while True:
                data = await next_read
                if not data and not first:
                    return
                next_read = asyncio.ensure_future(asyncio.to_thread(download.handle.read, chunk))
                message = pb.DownloadFileResponse(chunk=data, offset=offset)
                if first:
                    message.size_bytes, message.sha256, first = download.file.size_bytes, download.file.sha256, False
                yield message
                offset += len(data)
                if not data:
                    return
        finally:
            if not next_read.done():
                await asyncio.shield(asyncio.wait([next_read]))
            await asyncio.shield(asyncio.to_thread(download.handle.close))

    # -- assets -------------------------------------------------------------------------------------------
    async def GetAsset(self, request, context) -> pb.GetAssetResponse:
        return pb.GetAssetResponse(asset=asset_to_pb(await asyncio.to_thread(self.domain.get_asset, request.name)))

    async def ListAssets(self, request, context) -> pb.ListAssetsResponse:
        assets, token, total = await asyncio.to_thread(
            self.domain.list_assets, page_size_=request.page_size, page_token=request.page_token,
            kind=request.kind, campaign=request.campaign, hero=request.hero, show_deleted=request.show_deleted,
            labels=dict(request.labels))
        return pb.ListAssetsResponse(assets=[asset_to_pb(a) for a in assets], next_page_token=token,
                                     total_size=total)

    async def QueryCheckpoints(self, request, context) -> pb.QueryCheckpointsResponse:
        rows, token = await asyncio.to_thread(
            self.domain.query_checkpoints, page_size_=request.page_size, page_token=request.page_token,
            hero=request.hero, campaign=request.campaign, skill=request.skill, order_by=request.order_by,
            min_global_step=request.min_global_step, level=request.level)
        return pb.QueryCheckpointsResponse(
            checkpoints=[pb.CheckpointSummary(asset=asset_to_pb(a), best_eval=eval_to_pb(e)) for a, e in rows],
            next_page_token=token)

    async def UpdateAssetLabels(self, request, context) -> pb.UpdateAssetLabelsResponse:
        asset = await asyncio.to_thread(self.domain.update_labels, request.name, dict(request.set_labels),
                                        list(request.remove_labels))
        return pb.UpdateAssetLabelsResponse(asset=asset_to_pb(asset))

    async def DeleteAsset(self, request, context) -> pb.DeleteAssetResponse:
        asset = await asyncio.to_thread(self.domain.delete_asset, request.name, request.force)
        return pb.DeleteAssetResponse(asset=asset_to_pb(asset))

    # -- aliases ------------------------------------------------------------------------------------------
    async def SetAlias(self, request, context) -> pb.SetAliasResponse:
        a = request.alias
        alias = m.Alias(a.name, a.asset, metric=a.metric, metric_value=a.metric_value,
                        direction=int_enum_from_pb(a.direction, m.MetricDirection, "alias.direction"))
        result, moved = await asyncio.to_thread(self.domain.set_alias, alias, request.only_if_better)
        return pb.SetAliasResponse(alias=alias_to_pb(result), moved=moved)

    async def ResolveAlias(self, request, context) -> pb.ResolveAliasResponse:
        alias, asset = await asyncio.to_thread(self.domain.resolve_alias, request.name)
        return pb.ResolveAliasResponse(alias=alias_to_pb(alias), asset=asset_to_pb(asset))

    async def ListAliases(self, request, context) -> pb.ListAliasesResponse:
        aliases, token = await asyncio.to_thread(self.domain.list_aliases, request.campaign, request.page_size,
                                                 request.page_token)
        return pb.ListAliasesResponse(aliases=[alias_to_pb(a) for a in aliases], next_page_token=token)

    async def DeleteAlias(self, request, context) -> pb.DeleteAliasResponse:
        await asyncio.to_thread(self.domain.delete_alias, request.name)
        return pb.DeleteAliasResponse()

    async def PinAsset(self, request, context) -> pb.PinAssetResponse:
        asset = await asyncio.to_thread(self.domain.set_pinned, request.name, True, request.note)
        return pb.PinAssetResponse(asset=asset_to_pb(asset))

    async def UnpinAsset(self, request, context) -> pb.UnpinAssetResponse:
        asset = await asyncio.to_thread(self.domain.set_pinned, request.name, False)
        return pb.UnpinAssetResponse(asset=asset_to_pb(asset))

    # -- evals --------------------------------------------------------------------------------------------
    async def AttachEval(self, request, context) -> pb.AttachEvalResponse:
        e = request.eval
        ev = m.Eval(skill=e.skill, level=e.level, accuracy=e.accuracy, correct=e.correct, total=e.total,
                    report_asset=e.report_asset, regime=e.regime, eval_set_hash=e.eval_set_hash,
                    metrics=dict(e.metrics))
        result = await asyncio.to_thread(self.domain.attach_eval, request.asset or e.asset, ev)
        return pb.AttachEvalResponse(eval=eval_to_pb(result))

    async def ListEvals(self, request, context) -> pb.ListEvalsResponse:
        evals, token = await asyncio.to_thread(self.domain.list_evals, page_size_=request.page_size,
                                               page_token=request.page_token, asset=request.asset,
                                               campaign=request.campaign, skill=request.skill)
        return pb.ListEvalsResponse(evals=[eval_to_pb(e) for e in evals], next_page_token=token)

    # -- ledger -------------------------------------------------------------------------------------------
    async def WatchLedger(self, request, context) -> AsyncIterator[pb.WatchLedgerResponse]:
        kinds = [int_enum_from_pb(k, m.LedgerEventKind, "kinds") for k in request.kinds]
        cursor = request.after_sequence
        notifier = self.domain.notifier
        if request.from_now and cursor == 0:  # only what is appended after this call starts: no ledger replay
            if request.history_only:
                raise InvalidArgument("from_now with history_only selects nothing; drop one of them",
                                      field="from_now")
            cursor = notifier.latest
        while not notifier.closed:  # closed: the service is shutting down
            high = notifier.latest  # published only after commit: everything <= high is readable, gap-free
            events = await asyncio.to_thread(self.domain.ledger_events, after_sequence=cursor,
                                             campaign=request.campaign, kinds=kinds, limit=WATCH_BATCH, up_to=high)
            for event in events:
                yield pb.WatchLedgerResponse(event=event_to_pb(event))
                cursor = event.sequence
            if len(events) == WATCH_BATCH:
                continue
            cursor = max(cursor, high)
            if request.history_only:
                return
            await notifier.wait_beyond(cursor, timeout=WATCH_IDLE_RECHECK_S)

    async def ListLedgerEvents(self, request, context) -> pb.ListLedgerEventsResponse:
        events, token = await asyncio.to_thread(self.domain.list_ledger, page_size_=request.page_size,
                                                page_token=request.page_token,
                                                after_sequence=request.after_sequence, campaign=request.campaign)
        return pb.ListLedgerEventsResponse(events=[event_to_pb(e) for e in events], next_page_token=token)

    async def AppendLedgerEvent(self, request, context) -> pb.AppendLedgerEventResponse:
        e = request.event
        event = m.LedgerEvent(kind=e.kind, asset=e.asset, campaign=e.campaign, hero=e.hero, alias=e.alias,
                              message=e.message, attributes=dict(e.attributes))
        result = await asyncio.to_thread(self.domain.append_event, event, request.idempotency_key)
        return pb.AppendLedgerEventResponse(event=event_to_pb(result))

    # -- retention, verify, stats -------------------------------------------------------------------------
    async def SetRetentionPolicy(self, request, context) -> pb.SetRetentionPolicyResponse:
        p = request.policy
        policy = m.RetentionPolicy(
            campaign=p.campaign, keep_latest=p.keep_latest, keep_best_per_skill=p.keep_best_per_skill,
            keep_pinned=p.keep_pinned, keep_newer_than_s=from_duration(p.keep_newer_than),
            min_evals_before_delete=p.min_evals_before_delete, zone_byte_caps=dict(p.zone_byte_caps),
            enabled=p.enabled)
        stored = await asyncio.to_thread(self.domain.set_policy, policy)
        return pb.SetRetentionPolicyResponse(policy=policy_to_pb(stored))

    async def GetRetentionPolicy(self, request, context) -> pb.GetRetentionPolicyResponse:
        policy = await asyncio.to_thread(self.domain.get_policy, request.campaign)
        return pb.GetRetentionPolicyResponse(policy=policy_to_pb(policy))

    async def RunGc(self, request, context) -> pb.RunGcResponse:
        result = await asyncio.to_thread(self.domain.run_gc, request.campaign, request.dry_run)
        return pb.RunGcResponse(
            decisions=[pb.GcDecision(asset=d.asset, keep=d.keep, reasons=d.reasons, size_bytes=d.size_bytes,
                                     reclaim_bytes=d.reclaim_bytes, global_step=d.global_step)
                       for d in result.decisions],
            deleted_assets=result.deleted_assets, reclaimed_bytes=result.reclaimed_bytes, dry_run=result.dry_run,
            resumed_deletions=result.resumed_deletions)

    async def VerifyAsset(self, request, context) -> pb.VerifyAssetResponse:
        result = await asyncio.to_thread(self.domain.verify_asset, request.name)
        return pb.VerifyAssetResponse(
            asset=asset_to_pb(result.asset), ok=result.ok,
            files=[pb.FileVerification(path=f.path, ok=f.ok, expected_sha256=f.expected_sha256,
                                       actual_sha256=f.actual_sha256, problem=f.problem) for f in result.files])

    async def GetStats(self, request, context) -> pb.GetStatsResponse:
        stats = await asyncio.to_thread(self.domain.stats)
        return pb.GetStatsResponse(by_zone=[bucket_to_pb(b) for b in stats.by_zone],
                                   by_kind=[bucket_to_pb(b) for b in stats.by_kind],
                                   by_campaign=[bucket_to_pb(b) for b in stats.by_campaign],
                                   total=bucket_to_pb(stats.total))
