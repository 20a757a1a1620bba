"""Wiring of the warden: a FleetMonitor over every service in realm.yaml, probed with the kit's health probe."""

from __future__ import annotations

from realm.warden.v1 import warden_pb2_grpc
from services.kit.health import probe
from services.kit.server import ServiceServer
from services.warden.fleet import FleetMonitor
from services.warden.servicer import WardenServicer


async def setup(server: ServiceServer) -> None:
    section = server.settings.section("warden")
    monitor = FleetMonitor(
        hosts=server.settings.hosts,
        services={k: v for k, v in server.settings.services.items() if k != "warden"},
        probe=lambda endpoint, timeout: probe(endpoint, timeout=timeout),
        interval=float(section.get("probe_interval_seconds", 2.0)),
        probe_timeout=float(section.get("probe_timeout_seconds", 1.5)),
    )
    await monitor.start()
    server.add(WardenServicer(monitor), warden_pb2_grpc.add_WardenServiceServicer_to_server,
               "realm.warden.v1.WardenService")
    server.on_shutdown(monitor.close)
