"""The kit's MaintenanceService (realm.common.v1): backups on demand, listing, staged restore; and the schedule.

Every service serves it (ServiceServer registers it); a service only declares its stores with
`server.sqlite_store(name, path)`. The servicer is an adapter: proto -> BackupManager -> proto, with the
manager's file and SQLite work moved off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from realm.common.v1 import maintenance_pb2 as pb
from realm.common.v1 import maintenance_pb2_grpc
from services.kit import paging
from services.kit.backup import (
    REASON_ON_DEMAND,
    REASON_PRE_RESTORE,
    REASON_SCHEDULED,
    BackupManager,
    BackupRecord,
)
from services.kit.convert import to_timestamp

log = structlog.get_logger("realm.maintenance")

SERVICE_NAME = "realm.common.v1.MaintenanceService"
# Backups expose what a service stores; restores replace it: admin only, the List read included.
AUTH_RULES = {"CreateBackup": "admin", "ListBackups": "admin", "RestoreBackup": "admin"}

_REASONS = {
    REASON_ON_DEMAND: pb.BACKUP_REASON_ON_DEMAND,
    REASON_SCHEDULED: pb.BACKUP_REASON_SCHEDULED,
    REASON_PRE_RESTORE: pb.BACKUP_REASON_PRE_RESTORE,
}


def backup_to_pb(record: BackupRecord) -> pb.Backup:
    return pb.Backup(
        name=record.name,
        service=record.service,
        create_time=to_timestamp(record.create_time.timestamp()),
        reason=_REASONS.get(record.reason, pb.BACKUP_REASON_UNSPECIFIED),
        files=[pb.BackupFile(store=f.store, file=f.file, size_bytes=f.size_bytes, sha256=f.sha256,
                             store_path=f.store_path) for f in record.files],
        total_bytes=record.total_bytes,
    )


class MaintenanceServicer(maintenance_pb2_grpc.MaintenanceServiceServicer):
    """`request_stop` ends the service gracefully after a restore is staged (the kit's serve loop waits on it)."""

    def __init__(self, manager: BackupManager, request_stop: Callable[[], None]) -> None:
        self._manager = manager
        self._request_stop = request_stop

    async def CreateBackup(self, request, context):
        self._manager.check_parent(request.parent)
        record = await asyncio.to_thread(self._manager.create, REASON_ON_DEMAND)
        log.info("backup created", backup=record.name, bytes=record.total_bytes)
        return pb.CreateBackupResponse(backup=backup_to_pb(record))

    async def ListBackups(self, request, context):
        self._manager.check_parent(request.parent)
        records = await asyncio.to_thread(self._manager.list)
        page, next_token = paging.paginate(records, request.page_size, request.page_token,
                                           filters={"parent": self._manager.service})
        return pb.ListBackupsResponse(backups=[backup_to_pb(r) for r in page], next_page_token=next_token)

    async def RestoreBackup(self, request, context):
        backup_id = self._manager.parse_name(request.name)
        if request.validate_only:
            record = await asyncio.to_thread(self._manager.verify, backup_id)
            return pb.RestoreBackupResponse(backup=backup_to_pb(record), state=pb.RESTORE_STATE_VALIDATED,
                                            message="the backup is intact; nothing was changed")
        record = await asyncio.to_thread(self._manager.stage_restore, backup_id)
        log.warning("restore staged; stopping so the next start applies it", backup=record.name)
        # Stop after this response is on its way: the stop drains in-flight RPCs, this one included.
        asyncio.get_running_loop().call_soon(self._request_stop)
        return pb.RestoreBackupResponse(
            backup=backup_to_pb(record), state=pb.RESTORE_STATE_RESTART_PENDING,
            message=(f"staged; the {self._manager.service} service is stopping and restores the backup when it "
                     "starts again (the supervisor restarts it; elsewhere start it yourself)"),
        )


def add_to_server(servicer: MaintenanceServicer, server) -> None:
    maintenance_pb2_grpc.add_MaintenanceServiceServicer_to_server(servicer, server)


async def backup_schedule(manager: BackupManager, interval_s: float,
                          on_backup: Callable[[BackupRecord | Exception], None] | None = None) -> None:
    """Every interval, a scheduled backup of every declared store; a failure is logged and the schedule goes on."""
    while True:
        await asyncio.sleep(interval_s)
        if not manager.stores:
            continue
        try:
            outcome: BackupRecord | Exception = await asyncio.to_thread(manager.create, REASON_SCHEDULED)
            log.info("scheduled backup", backup=outcome.name, bytes=outcome.total_bytes)
        except Exception as exc:
            outcome = exc
            log.exception("scheduled backup failed", service=manager.service)
        if on_backup is not None:
            on_backup(outcome)


async def cancel(task: asyncio.Task | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
