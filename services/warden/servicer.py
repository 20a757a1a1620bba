"""gRPC adapter for the warden: proto <-> FleetMonitor, nothing else."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from realm.warden.v1 import warden_pb2, warden_pb2_grpc
from services.kit.errors import InvalidArgument
from services.kit.paging import paginate
from services.warden.fleet import FleetMonitor, FleetStatus, HostStatus


def _ts(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def host_to_pb(host: HostStatus) -> warden_pb2.Host:
    return warden_pb2.Host(
        name=f"hosts/{host.name}",
        address=host.address,
        roles=list(host.roles),
        state=warden_pb2.FleetState.Value(f"FLEET_STATE_{host.state}"),
        services=[
            warden_pb2.ServiceHealth(
                service=s.service,
                host=s.host,
                address=s.address,
                state=warden_pb2.ServingState.Value(f"SERVING_STATE_{s.state}"),
                latency_ms=s.latency_ms,
                check_time=_ts(s.check_time),
                last_change_time=_ts(s.last_change_time),
                error=s.error,
            )
            for s in host.services
        ],
    )


def status_to_pb(status: FleetStatus) -> warden_pb2.FleetStatus:
    return warden_pb2.FleetStatus(
        state=warden_pb2.FleetState.Value(f"FLEET_STATE_{status.state}"),
        hosts=[host_to_pb(h) for h in status.hosts],
        update_time=_ts(status.update_time),
        serving=status.serving,
        total=status.total,
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
            status = await self._monitor.wait_for_change(status.version)
            yield warden_pb2.WatchFleetResponse(status=status_to_pb(status))
