"""Wiring of the vault service: build the domain from settings, register the servicer, start the verifier."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from realm.vault.v1 import vault_pb2_grpc
from services.kit.server import ServiceServer
from services.vault.domain import VaultDomain
from services.vault.loop_retention import RetentionAfterRegistration
from services.vault.servicer import VaultServicer

log = structlog.get_logger("realm.vault")


async def _verify_forever(domain: VaultDomain, interval_s: float) -> None:
    """Scheduled verification: every interval, re-hash the asset verified longest ago."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            name = await asyncio.to_thread(domain.oldest_unverified)
            if name:
                result = await asyncio.to_thread(domain.verify_asset, name)
                if not result.ok:
                    log.warning("scheduled verify found corruption", asset=name)
        except Exception:  # the schedule must survive a bad asset; the error is logged
            log.exception("scheduled verify failed")


async def setup(server: ServiceServer) -> None:
    domain = await asyncio.to_thread(VaultDomain.from_settings, server.settings)
    server.add(VaultServicer(domain), vault_pb2_grpc.add_VaultServiceServicer_to_server,
               "realm.vault.v1.VaultService")
    server.sqlite_store("catalog", domain.config.state_dir / "catalog.sqlite3")  # backups by the kit
    interval = domain.config.verify_interval_s
    task = asyncio.get_running_loop().create_task(_verify_forever(domain, interval)) if interval > 0 else None
    retention = RetentionAfterRegistration(domain) if domain.config.retention_after_register else None
    if retention is not None:
        retention.start()

    async def shutdown() -> None:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if retention is not None:
            await asyncio.to_thread(retention.close)
        await asyncio.to_thread(domain.close)  # closing SQLite checkpoints the WAL: disk I/O

    server.on_shutdown(shutdown)
