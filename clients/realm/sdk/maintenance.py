"""Groundskeeping through the SDK: backups of a service's SQLite stores (realm.common.v1.MaintenanceService).

Every service serves MaintenanceService on its own address, so the client is per service:

    from realm.sdk import connect
    from realm.sdk.maintenance import maintenance

    vault = maintenance(connect(), "vault")
    backup = vault.create_backup()                 # name, files (store, size_bytes, sha256), create_time
    names = [b.name for b in vault.list_backups()]
    vault.restore_backup(backup.name)              # verified, staged; the service restarts into it

Every generated RPC (CreateBackup, ListBackups, RestoreBackup) stays available on the same object.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from realm.common.v1 import maintenance_pb2 as pb
from realm.common.v1 import maintenance_pb2_grpc
from realm.sdk.core import ServiceClient, ServiceSpec

MAINTENANCE = ServiceSpec("maintenance", "realm.common.v1.MaintenanceService",
                          maintenance_pb2_grpc.MaintenanceServiceStub, pb)
# Copying and hashing a large store takes longer than an ordinary call's deadline.
BACKUP_TIMEOUT_SECONDS = 600.0


class MaintenanceClient(ServiceClient):
    """MaintenanceService of one service (`service`), at that service's address."""

    def __init__(self, service: str, target: str, token: str | None, timeout: float | None = None) -> None:
        super().__init__(MAINTENANCE, target, token, timeout)
        self.service = service

    @property
    def parent(self) -> str:
        return f"services/{self.service}"

    def create_backup(self, *, timeout: float = BACKUP_TIMEOUT_SECONDS) -> pb.Backup:
        return self.CreateBackup(pb.CreateBackupRequest(parent=self.parent), timeout=timeout).backup

    def list_backups(self, *, page_size: int = 0) -> Iterator[pb.Backup]:
        """Every backup of the service, newest first, across pages."""
        token = ""
        while True:
            response = self.ListBackups(pb.ListBackupsRequest(parent=self.parent, page_size=page_size,
                                                              page_token=token))
            yield from response.backups
            token = response.next_page_token
            if not token:
                return

    def restore_backup(self, name: str, *, validate_only: bool = False,
                       timeout: float = BACKUP_TIMEOUT_SECONDS) -> pb.RestoreBackupResponse:
        return self.RestoreBackup(pb.RestoreBackupRequest(name=name, validate_only=validate_only), timeout=timeout)


def maintenance(realm: Any, service: str) -> MaintenanceClient:
    """The MaintenanceService client of `service` ("vault", "trainer", ...) on a connected Realm."""
    if service not in realm.addresses:
        raise KeyError(f"no address configured for service {service!r}")
    return MaintenanceClient(service, realm.addresses[service], realm.token)


def service_of(backup_name: str) -> str:
    """"services/vault/backups/x" -> "vault"."""
    parts = backup_name.split("/")
    if len(parts) != 4 or parts[0] != "services" or parts[2] != "backups" or not parts[1] or not parts[3]:
        raise ValueError(f"backup name must look like services/<service>/backups/<backup>, got {backup_name!r}")
    return parts[1]
