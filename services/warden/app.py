"""Wiring of the warden: a FleetMonitor over every service in realm.yaml, fed by one health watcher per service."""

from __future__ import annotations

from pathlib import Path

from realm.warden.v1 import warden_pb2_grpc
from services.kit.server import ServiceServer
from services.warden.config import WardenConfig
from services.warden.fleet import FleetMonitor
from services.warden.servicer import WardenServicer
from services.warden.watch import WatchPool


def default_disk_paths(server: ServiceServer) -> tuple[Path, ...]:
    """The data directory, plus the vault's zones when the vault shares this host."""
    settings = server.settings
    paths = [settings.data_dir]
    vault = settings.services.get("vault")
    if vault is not None and vault.host == settings.service("warden").host:
        for zone in (settings.section("vault").get("zones") or {}).values():
            if isinstance(zone, dict) and isinstance(zone.get("path"), str):
                path = Path(zone["path"]).expanduser()
                paths.append(path if path.is_absolute() else settings.root / path)
    return tuple(paths)


async def setup(server: ServiceServer) -> None:
    settings = server.settings
    config = WardenConfig.from_section(settings.section("warden"), default_disk_paths=default_disk_paths(server),
                                       root=settings.root)
    monitor = FleetMonitor(
        hosts=settings.hosts,
        services={k: v for k, v in settings.services.items() if k != "warden"},
        local_host=settings.service("warden").host,
        alert_after_seconds=config.alert_after_seconds,
        critical_services=config.critical_services,
    )
    pool = WatchPool(monitor, config)
    await pool.start()
    server.add(WardenServicer(monitor), warden_pb2_grpc.add_WardenServiceServicer_to_server,
               "realm.warden.v1.WardenService")
    server.on_shutdown(pool.close)
