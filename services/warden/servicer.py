"""gRPC adapter for the warden: proto <-> FleetMonitor, nothing else."""

from __future__ import annotations

from realm.warden.v1 import warden_pb2, warden_pb2_grpc
from services.kit.convert import to_timestamp
from services.kit.errors import InvalidArgument
from services.kit.paging import paginate
from services.warden.fleet import (
    UNKNOWN,
    Alert,
    DiskUsage,
    FleetMonitor,
    FleetStatus,
    HostStatus,
    ServiceHealth,
)


def _enum(pb_enum, prefix: str, value: str) -> int:
    return 0 if not value or value == UNKNOWN else pb_enum.Value(f"{prefix}_{value}")


def service_to_pb(health: ServiceHealth) -> warden_pb2.ServiceHealth:
    return warden_pb2.ServiceHealth(
        service=health.service,
        host=health.host,
        address=health.address,
        state=_enum(warden_pb2.ServingState, "SERVING_STATE", health.state),
        latency_ms=health.latency_ms,
        check_time=to_timestamp(health.check_time),
        last_change_time=to_timestamp(health.last_change_time),
        error=health.error,
        reconnects=health.reconnects,
        mode=_enum(warden_pb2.ProbeMode, "PROBE_MODE", health.mode),
    )


def disk_to_pb(usage: DiskUsage) -> warden_pb2.DiskUsage:
    return warden_pb2.DiskUsage(
        path=usage.path, total_bytes=usage.total_bytes, used_bytes=usage.used_bytes, free_bytes=usage.free_bytes,
        used_percent=usage.used_percent, level=_enum(warden_pb2.DiskLevel, "DISK_LEVEL", usage.level),
    )


def alert_to_pb(alert: Alert) -> warden_pb2.Alert:
    return warden_pb2.Alert(
        kind=_enum(warden_pb2.AlertKind, "ALERT_KIND", alert.kind),
        severity=_enum(warden_pb2.AlertSeverity, "ALERT_SEVERITY", alert.severity),
        subject=alert.subject, host=alert.host, message=alert.message,
        fire_time=to_timestamp(alert.fire_time), resolve_time=to_timestamp(alert.resolve_time),
    )


def host_to_pb(host: HostStatus) -> warden_pb2.Host:
    return warden_pb2.Host(
        name=f"hosts/{host.name}",
        address=host.address,
        roles=list(host.roles),
        state=_enum(warden_pb2.FleetState, "FLEET_STATE", host.state),
        services=[service_to_pb(s) for s in host.services],
        disks=[disk_to_pb(d) for d in host.disks],
    )


def status_to_pb(status: FleetStatus) -> warden_pb2.FleetStatus:
    return warden_pb2.FleetStatus(
        state=_enum(warden_pb2.FleetState, "FLEET_STATE", status.state),
        hosts=[host_to_pb(h) for h in status.hosts],
        update_time=to_timestamp(status.update_time),
        serving=status.serving,
        total=status.total,
        alerts=[alert_to_pb(a) for a in status.alerts],
    )


class WardenServicer(warden_pb2_grpc.WardenServiceServicer):
    def __init__(self, monitor: FleetMonitor) -> None:
        self._monitor = monitor

    async def ListHosts(self, request, context):
        hosts = list(self._monitor.status().hosts)
        page, token = paginate(hosts, request.page_size, request.page_token)
        return warden_pb2.ListHostsResponse(hosts=[host_to_pb(h) for h in page], next_page_token=token)

    async def GetHost(self, request, context):
        if not request.name.startswith("hosts/"):
            raise InvalidArgument("must look like hosts/{host}", field="name")
        return warden_pb2.GetHostResponse(host=host_to_pb(self._monitor.host(request.name.removeprefix("hosts/"))))

    async def GetFleetStatus(self, request, context):
        return warden_pb2.GetFleetStatusResponse(status=status_to_pb(self._monitor.status()))

    async def WatchFleet(self, request, context):
        status = self._monitor.status()
        yield warden_pb2.WatchFleetResponse(status=status_to_pb(status))
        while True:
            seen = status.version
            status = await self._monitor.wait_for_change(seen)
            events = self._monitor.alert_events_after(seen)
            yield warden_pb2.WatchFleetResponse(status=status_to_pb(status),
                                                alert_events=[alert_to_pb(a) for a in events])
