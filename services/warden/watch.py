"""Health watchers: one `grpc.health.v1` Watch per service, feeding a FleetMonitor.

Each watcher dials its service, asks Check once (for the latency and a first answer), then holds a Watch stream.
HTTP/2 keepalive pings on that stream notice a cut link within about two keepalive periods; a broken stream is
reported UNREACHABLE at once and redialled with exponential backoff. A server without Watch (UNIMPLEMENTED) is
polled with Check instead; the gateway, which speaks HTTP, is polled on /healthz.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.kit.config import ServiceEndpoint
from services.kit.health import HTTP_SERVICES, probe
from services.warden.config import WardenConfig
from services.warden.disk import measure
from services.warden.fleet import NOT_SERVING, SERVING, UNREACHABLE, FleetMonitor

log = structlog.get_logger("warden")
WATCH, CHECK, HTTP = "WATCH", "CHECK", "HTTP"


class StreamEnded(Exception):
    """The server closed a Watch stream (it is shutting down)."""


def _state(response: health_pb2.HealthCheckResponse) -> str:
    return SERVING if response.status == health_pb2.HealthCheckResponse.SERVING else NOT_SERVING


def _channel_options(keepalive_seconds: float) -> list[tuple[str, int]]:
    keepalive_ms = int(keepalive_seconds * 1000)
    return [
        ("grpc.keepalive_time_ms", keepalive_ms),
        ("grpc.keepalive_timeout_ms", keepalive_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),  # a quiet Watch stream sends no data; keep pinging anyway
        ("grpc.enable_retries", 0),
    ]


class ServiceWatcher:
    def __init__(self, endpoint: ServiceEndpoint, monitor: FleetMonitor, config: WardenConfig) -> None:
        self.endpoint = endpoint
        self._monitor = monitor
        self._config = config
        self._watch_supported = True
        self._was_connected = False
        self._answered_once = False
        self.first_answer = asyncio.Event()

    def _observe(self, state: str, **fields) -> None:
        self._monitor.observe(self.endpoint.name, state, **fields)
        self.first_answer.set()

    async def run(self) -> None:
        if self.endpoint.name in HTTP_SERVICES:
            await self._poll_http()
            return
        backoff = self._config.backoff_initial_seconds
        while True:
            try:
                async with grpc.aio.insecure_channel(self.endpoint.address,
                                                     options=_channel_options(self._config.keepalive_seconds)) as ch:
                    await self._follow(health_pb2_grpc.HealthStub(ch))
            except (grpc.aio.AioRpcError, StreamEnded) as exc:
                error = f"{exc.code().name}: {exc.details()}" if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
                if self._was_connected:
                    log.warning("health stream lost", service=self.endpoint.name, error=error)
                self._was_connected = False
                self._observe(UNREACHABLE, error=error)
            else:
                backoff = self._config.backoff_initial_seconds
            await asyncio.sleep(backoff)  # redial delay, not synchronisation
            backoff = min(backoff * 2, self._config.backoff_max_seconds)

    async def _check(self, stub: health_pb2_grpc.HealthStub, mode: str) -> None:
        started = time.perf_counter()
        try:
            response = await stub.Check(health_pb2.HealthCheckRequest(service=""),
                                        timeout=self._config.probe_timeout_seconds)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            # Reachable, but it offers no health service at all.
            self._observe(NOT_SERVING, error="no grpc.health.v1 service", mode=CHECK)
            return
        # A new connection to a service that answered before: it restarted, or the network came back.
        reconnected = not self._was_connected and self._answered_once
        self._was_connected = self._answered_once = True
        self._observe(_state(response), latency_ms=(time.perf_counter() - started) * 1000, mode=mode,
                      reconnected=reconnected)

    async def _follow(self, stub: health_pb2_grpc.HealthStub) -> None:
        await self._check(stub, WATCH if self._watch_supported else CHECK)
        if self._watch_supported:
            try:
                async for response in stub.Watch(health_pb2.HealthCheckRequest(service="")):
                    self._observe(_state(response), mode=WATCH)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                    raise
                log.info("no health Watch: polling Check", service=self.endpoint.name)
                self._watch_supported = False
            else:
                # The server ended the stream (it is shutting down): treat it as gone and redial.
                raise StreamEnded("health stream ended by the server")
        while not self._watch_supported:
            await asyncio.sleep(self._config.probe_interval_seconds)  # polling period of the Check fallback
            await self._check(stub, CHECK)

    async def _poll_http(self) -> None:
        while True:
            result = await asyncio.to_thread(probe, self.endpoint, self._config.probe_timeout_seconds)
            self._observe(result.state, latency_ms=result.latency_ms, error=result.error, mode=HTTP)
            await asyncio.sleep(self._config.probe_interval_seconds)  # polling period: HTTP has no watch


class WatchPool:
    """Every watcher, the disk sampler and the alert clock, as tasks that `close` cancels."""

    def __init__(self, monitor: FleetMonitor, config: WardenConfig,
                 measure_disks: Callable[[], list] | None = None) -> None:
        self._monitor = monitor
        self._config = config
        self._measure_disks = measure_disks or (lambda: measure(config.disk.paths, config.disk.warn_percent,
                                                                config.disk.critical_percent))
        self.watchers = [ServiceWatcher(endpoint, monitor, config) for endpoint in monitor.endpoints]
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        """Start every task; return once each service has answered or failed once (bounded by the probe deadline)."""
        self._tasks = [asyncio.create_task(w.run(), name=f"watch-{w.endpoint.name}") for w in self.watchers]
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="warden-housekeeping"))
        if self.watchers:
            await asyncio.wait([asyncio.create_task(w.first_answer.wait()) for w in self.watchers],
                               timeout=self._config.probe_timeout_seconds + 1.0)

    async def _housekeeping(self) -> None:
        next_disk = 0.0
        while True:
            if time.monotonic() >= next_disk:
                try:
                    self._monitor.observe_disks(await asyncio.to_thread(self._measure_disks))
                except OSError as exc:
                    log.warning("disk usage unavailable", error=str(exc))
                next_disk = time.monotonic() + self._config.disk.interval_seconds
            self._monitor.tick()
            await asyncio.sleep(1.0)  # alert clock resolution

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
