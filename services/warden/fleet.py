"""Fleet health: what the warden knows about every service, host and data directory, and the alerts it raises.

Domain code, no gRPC: watchers (services/warden/watch.py) report each service's health through `observe`,
the disk sampler through `observe_disks`; `evaluate` turns "down for N s" into alerts. Every change that matters
(a state, an alert, a disk level) bumps `version` and wakes `wait_for_change`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from services.kit.config import HostSpec, ServiceEndpoint
from services.kit.errors import NotFound

ONLINE, DEGRADED, OFFLINE = "ONLINE", "DEGRADED", "OFFLINE"
SERVING, NOT_SERVING, UNREACHABLE, UNKNOWN = "SERVING", "NOT_SERVING", "UNREACHABLE", "UNKNOWN"
OK, WARN, CRITICAL = "OK", "WARN", "CRITICAL"
SERVICE_DOWN, DISK_USAGE = "SERVICE_DOWN", "DISK_USAGE"
HISTORY = 1024  # alert events kept for watchers that fall behind


@dataclass(frozen=True)
class ServiceHealth:
    service: str
    host: str
    address: str
    state: str  # SERVING, NOT_SERVING, UNREACHABLE, UNKNOWN (not heard from yet)
    latency_ms: float  # of the last health Check (a Watch update carries no latency)
    check_time: float  # when the warden last heard about this service
    last_change_time: float  # since when the service has been in `state`
    error: str = ""
    reconnects: int = 0  # times its health stream broke and came back (a restart or a network cut)
    mode: str = ""  # WATCH, CHECK (no Watch: polled) or HTTP (the gateway's /healthz)


@dataclass(frozen=True)
class DiskUsage:
    path: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    level: str  # OK, WARN, CRITICAL

    @property
    def used_percent(self) -> float:
        return 100.0 * self.used_bytes / self.total_bytes if self.total_bytes else 0.0


@dataclass(frozen=True)
class Alert:
    kind: str  # SERVICE_DOWN, DISK_USAGE
    severity: str  # WARN, CRITICAL
    subject: str  # the service name or the directory
    host: str
    message: str
    fire_time: float
    resolve_time: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.subject


@dataclass(frozen=True)
class HostStatus:
    name: str
    address: str
    roles: tuple[str, ...]
    services: tuple[ServiceHealth, ...]
    state: str
    disks: tuple[DiskUsage, ...] = ()


@dataclass(frozen=True)
class FleetStatus:
    state: str
    hosts: tuple[HostStatus, ...]
    update_time: float
    serving: int
    total: int
    alerts: tuple[Alert, ...] = ()  # active ones
    version: int = 0


def rollup(states: list[str]) -> str:
    """All serving -> ONLINE; none -> OFFLINE; otherwise DEGRADED. An empty set is OFFLINE."""
    serving = sum(1 for s in states if s == SERVING)
    if states and serving == len(states):
        return ONLINE
    return OFFLINE if serving == 0 else DEGRADED


def disk_level(used_percent: float, warn_percent: float, critical_percent: float) -> str:
    if used_percent >= critical_percent:
        return CRITICAL
    return WARN if used_percent >= warn_percent else OK


class FleetMonitor:
    def __init__(self, hosts: Mapping[str, HostSpec], services: Mapping[str, ServiceEndpoint], *,
                 local_host: str | None = None, alert_after_seconds: float = 30.0,
                 critical_services: Iterable[str] = (), clock: Callable[[], float] = time.time) -> None:
        self._hosts = dict(hosts)
        self._endpoints = {name: s for name, s in services.items() if s.enabled}
        self._local_host = local_host
        self._alert_after = alert_after_seconds
        self._critical = set(critical_services)
        self._clock = clock
        now = clock()
        self._health = {
            name: ServiceHealth(name, s.host, s.address, UNKNOWN, 0.0, 0.0, now) for name, s in self._endpoints.items()
        }
        self._down_since: dict[str, float] = {name: now for name in self._endpoints}
        self._disks: tuple[DiskUsage, ...] = ()
        self._alerts: dict[tuple[str, str], Alert] = {}
        self._events: deque[tuple[int, Alert]] = deque(maxlen=HISTORY)
        self._version = 1
        self._pending = False  # alert events recorded under the next version
        self._changed = asyncio.Event()

    @property
    def endpoints(self) -> list[ServiceEndpoint]:
        return list(self._endpoints.values())

    # -- inputs ----------------------------------------------------------------------------------------
    def observe(self, service: str, state: str, *, latency_ms: float | None = None, error: str = "",
                mode: str | None = None, reconnected: bool = False) -> None:
        """A watcher's news about one service."""
        now = self._clock()
        previous = self._health[service]
        self._health[service] = replace(
            previous,
            state=state,
            latency_ms=previous.latency_ms if latency_ms is None else latency_ms,
            check_time=now,
            last_change_time=now if state != previous.state else previous.last_change_time,
            error="" if state == SERVING else error,
            reconnects=previous.reconnects + (1 if reconnected else 0),
            mode=mode or previous.mode,
        )
        if state == SERVING:
            self._down_since.pop(service, None)
        else:
            self._down_since.setdefault(service, now)
        self.evaluate()
        self._commit(state != previous.state or mode not in (None, previous.mode))

    def observe_disks(self, usages: Iterable[DiskUsage]) -> None:
        usages = tuple(usages)
        host = self._local_host or ""
        changed = [u.level for u in usages] != [u.level for u in self._disks]
        self._disks = usages
        for usage in usages:
            key = (DISK_USAGE, usage.path)
            active = self._alerts.get(key)
            if active is not None and (usage.level == OK or active.severity != usage.level):
                self._resolve(key)
            if usage.level != OK and (active is None or active.severity != usage.level):
                self._fire(Alert(DISK_USAGE, usage.level, usage.path, host,
                                 f"{usage.path} is {usage.used_percent:.1f}% full ({usage.free_bytes} bytes free)",
                                 self._clock()))
        self._commit(changed)

    def evaluate(self) -> None:
        """Raise SERVICE_DOWN for critical services down longer than the threshold, resolve recovered ones."""
        now = self._clock()
        for name in self._critical & self._endpoints.keys():
            key = (SERVICE_DOWN, name)
            since = self._down_since.get(name)
            if since is None and key in self._alerts:
                self._resolve(key)
            elif since is not None and key not in self._alerts and now - since >= self._alert_after:
                health = self._health[name]
                self._fire(Alert(SERVICE_DOWN, CRITICAL, name, health.host,
                                 f"{name} on {health.host} has been {health.state} for {now - since:.0f} s"
                                 + (f": {health.error}" if health.error else ""), now))

    def tick(self) -> None:
        """Called periodically: time alone can make a service's outage long enough to alert."""
        self.evaluate()
        self._commit(False)

    # -- outputs ---------------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return self._version

    def status(self) -> FleetStatus:
        hosts = []
        for host in self._hosts.values():
            services = tuple(h for h in self._health.values() if h.host == host.name)
            disks = self._disks if host.name == self._local_host else ()
            hosts.append(HostStatus(host.name, host.address, host.roles, services,
                                    rollup([s.state for s in services]) if services else OFFLINE, disks))
        states = [h.state for h in self._health.values()]
        return FleetStatus(rollup(states), tuple(hosts), self._clock(), states.count(SERVING), len(states),
                           tuple(self._alerts.values()), self._version)

    def host(self, name: str) -> HostStatus:
        for host in self.status().hosts:
            if host.name == name:
                return host
        raise NotFound(f"no host named {name!r}", field="name")

    def alert_events_after(self, version: int) -> list[Alert]:
        return [alert for v, alert in self._events if v > version]

    async def wait_for_change(self, version: int) -> FleetStatus:
        while self._version == version:
            await self._changed.wait()
        return self.status()

    # -- internals -------------------------------------------------------------------------------------
    def _fire(self, alert: Alert) -> None:
        self._alerts[alert.key] = alert
        self._events.append((self._version + 1, alert))
        self._pending = True

    def _resolve(self, key: tuple[str, str]) -> None:
        resolved = replace(self._alerts.pop(key), resolve_time=self._clock())
        self._events.append((self._version + 1, resolved))
        self._pending = True

    def _commit(self, changed: bool) -> None:
        if not (changed or self._pending):
            return
        self._pending = False
        self._version += 1
        self._changed.set()
        self._changed = asyncio.Event()
