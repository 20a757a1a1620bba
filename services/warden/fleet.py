"""Fleet health: probe every configured service on an interval, derive host and fleet states, notify watchers.

Domain code: the probe function is injected (the app passes the kit's gRPC/HTTP health probe).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from services.kit.config import HostSpec, ServiceEndpoint
from services.kit.errors import NotFound

ONLINE, DEGRADED, OFFLINE = "ONLINE", "DEGRADED", "OFFLINE"


@dataclass(frozen=True)
class ServiceHealth:
    service: str
    host: str
    address: str
    state: str  # SERVING, NOT_SERVING, UNREACHABLE
    latency_ms: float
    check_time: float
    last_change_time: float
    error: str = ""


@dataclass(frozen=True)
class HostStatus:
    name: str
    address: str
    roles: tuple[str, ...]
    services: tuple[ServiceHealth, ...]
    state: str


@dataclass(frozen=True)
class FleetStatus:
    state: str
    hosts: tuple[HostStatus, ...]
    update_time: float
    serving: int
    total: int
    version: int = 0


def rollup(states: list[str]) -> str:
    """All serving -> ONLINE; none -> OFFLINE; otherwise DEGRADED. An empty set is OFFLINE."""
    serving = sum(1 for s in states if s == "SERVING")
    if states and serving == len(states):
        return ONLINE
    return OFFLINE if serving == 0 else DEGRADED


@dataclass
class FleetMonitor:
    hosts: Mapping[str, HostSpec]
    services: Mapping[str, ServiceEndpoint]
    probe: Callable[[ServiceEndpoint, float], object]
    interval: float = 2.0
    probe_timeout: float = 1.5
    _health: dict[str, ServiceHealth] = field(default_factory=dict)
    _status: FleetStatus | None = None
    _changed: asyncio.Condition | None = None
    _task: asyncio.Task | None = None

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        await self.refresh()
        self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.refresh()

    async def refresh(self) -> FleetStatus:
        endpoints = [s for s in self.services.values() if s.enabled]
        results = await asyncio.gather(
            *(asyncio.to_thread(self.probe, endpoint, self.probe_timeout) for endpoint in endpoints)
        )
        now = time.time()
        changed = self._status is None
        for endpoint, result in zip(endpoints, results, strict=True):
            previous = self._health.get(endpoint.name)
            state = getattr(result, "state", "UNREACHABLE")
            last_change = now if previous is None or previous.state != state else previous.last_change_time
            changed = changed or previous is None or previous.state != state
            self._health[endpoint.name] = ServiceHealth(
                service=endpoint.name,
                host=endpoint.host,
                address=endpoint.address,
                state=state,
                latency_ms=float(getattr(result, "latency_ms", 0.0)),
                check_time=now,
                last_change_time=last_change,
                error=str(getattr(result, "error", "")),
            )
        status = self._build(now)
        if changed:
            version = (self._status.version + 1) if self._status else 1
            self._status = replace(status, version=version)
            if self._changed is not None:
                async with self._changed:
                    self._changed.notify_all()
        else:
            self._status = replace(status, version=self._status.version if self._status else 1)
        return self._status

    def _build(self, now: float) -> FleetStatus:
        hosts = []
        for host in self.hosts.values():
            services = tuple(h for h in self._health.values() if h.host == host.name)
            hosts.append(HostStatus(host.name, host.address, host.roles, services,
                                    rollup([s.state for s in services]) if services else OFFLINE))
        all_states = [h.state for h in self._health.values()]
        return FleetStatus(rollup(all_states), tuple(hosts), now,
                           sum(1 for s in all_states if s == "SERVING"), len(all_states))

    def status(self) -> FleetStatus:
        assert self._status is not None, "monitor not started"
        return self._status

    def host(self, name: str) -> HostStatus:
        for host in self.status().hosts:
            if host.name == name:
                return host
        raise NotFound(f"no host named {name!r}", field="name")

    async def wait_for_change(self, version: int) -> FleetStatus:
        assert self._changed is not None
        async with self._changed:
            await self._changed.wait_for(lambda: self._status is not None and self._status.version != version)
        return self.status()
