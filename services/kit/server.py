"""grpc.aio server bootstrap shared by every service.

A service's entry point is `run_service("vault", setup)`, where `setup(server)` builds the domain objects from
`server.settings` and registers its servicer with `server.add(...)`. The kit adds health (NOT_SERVING while
starting and during shutdown), reflection, the interceptor (request id, auth, errors, log line, metrics),
a metrics HTTP port, and graceful shutdown on SIGTERM/SIGINT.

A server bound to port 0 (`--port 0`; a metrics port of 0 likewise) reads its ports back after bind and publishes
them in `<data_dir>/run/<name>.address.json` (services.kit.ports), removed again on a clean stop: that is how a
parent that started it learns where it listens, with no port picked, released and rebound.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.kit import maintenance
from services.kit.backup import manager_for
from services.kit.config import ConfigError, Settings, load_settings
from services.kit.interceptors import Authenticator, RealmServerInterceptor
from services.kit.lifetime import die_with_parent_from_env
from services.kit.logs import configure_logging
from services.kit.metrics import start_metrics_server
from services.kit.ports import publish_address, withdraw_address

log = structlog.get_logger("realm.server")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
DEFAULT_GRACE_SECONDS = 5.0

Setup = Callable[["ServiceServer"], Awaitable[None]]


class ServiceServer:
    """One service's gRPC server with the kit's cross-cutting parts already attached."""

    def __init__(
        self,
        settings: Settings,
        name: str,
        *,
        port: int | None = None,
        metrics_port: int | bool | None = None,
    ) -> None:
        self.settings = settings
        self.name = name
        endpoint = settings.service(name)
        self._bind_host = endpoint.bind_host
        self._connect_host = endpoint.connect_host
        self._port = endpoint.port if port is None else port
        # None: as configured; False: no metrics port; an int (0 = any free port): that port.
        self._metrics_port = endpoint.metrics_port if metrics_port is None else (
            None if metrics_port is False else int(metrics_port))
        self._interceptor = RealmServerInterceptor(
            name, Authenticator((t.name, t.role, t.value) for t in settings.tokens)
        )
        self._server = grpc.aio.server(
            interceptors=[self._interceptor],
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.so_reuseport", 0),
                # The warden holds a health Watch per service with 1 s keepalive pings (to see a cut link within
                # seconds); the default policy (5 min) would answer those pings with GOAWAY "too_many_pings".
                ("grpc.http2.min_ping_interval_without_data_ms", 500),
            ],
        )
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self._service_names: list[str] = []
        self._shutdown_callbacks: list[Callable[[], Any]] = []
        self._ready = True
        self._started = False
        self._metrics_http = None
        self.bound_port: int | None = None
        self.metrics_bound_port: int | None = None
        # Groundskeeping on every service: backups of the SQLite stores it declares (sqlite_store), the schedule.
        self.stop_requested = asyncio.Event()
        self.backups = manager_for(settings, name)
        self._backup_task: asyncio.Task | None = None
        self.add(maintenance.MaintenanceServicer(self.backups, self.stop_requested.set), maintenance.add_to_server,
                 maintenance.SERVICE_NAME)
        self._interceptor.role_overrides.update(maintenance.AUTH_RULES)

    # -- registration ----------------------------------------------------------------------------------
    def add(self, servicer: Any, add_to_server: Callable[[Any, Any], None], full_service_name: str) -> None:
        add_to_server(servicer, self._server)
        self._service_names.append(full_service_name)

    def auth_rules(self, rules: Mapping[str, str]) -> None:
        """Override the role a method needs, e.g. {"Generate": "read"}."""
        for method, role in rules.items():
            if role not in ("read", "admin"):
                raise ValueError(f"role for {method} must be 'read' or 'admin'")
        self._interceptor.role_overrides.update(rules)

    def on_shutdown(self, callback: Callable[[], Any]) -> None:
        self._shutdown_callbacks.append(callback)

    def sqlite_store(self, store: str, path: Any) -> None:
        """Declare one of the service's SQLite stores: the kit backs it up (on demand, on schedule) and restores it."""
        self.backups.declare(store, path)

    async def prepare(self) -> None:
        """Before setup opens any store: take the service lock and apply a restore staged by RestoreBackup."""
        if not await asyncio.to_thread(self.backups.acquire_service_lock):
            log.warning("another process holds this service's lock; a staged restore waits for a sole start",
                        service=self.name)
            return
        self.on_shutdown(self.backups.release_service_lock)
        restored = await asyncio.to_thread(self.backups.apply_pending_restore)
        if restored is not None:
            log.warning("restored backup", service=self.name, backup=restored.name)

    @property
    def address(self) -> str:
        host = self._bind_host
        host = f"[{host}]" if ":" in host else host
        return f"{host}:{self.bound_port if self.bound_port is not None else self._port}"

    @property
    def service_names(self) -> list[str]:
        return list(self._service_names)

    # -- health ----------------------------------------------------------------------------------------
    def set_serving(self, serving: bool) -> None:
        """Readiness: NOT_SERVING until the service says it can do its job."""
        self._ready = serving
        if self._started:
            asyncio.get_running_loop().create_task(self._publish_health(serving))

    async def _publish_health(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *self._service_names):
            await self._health.set(name, status)

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> int:
        await self._publish_health(False)
        names = (*self._service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                 reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, self._server)
        bind = f"{self._bind_host}:{self._port}"
        try:
            self.bound_port = self._server.add_insecure_port(bind)
        except RuntimeError:  # grpc's "Failed to bind to address": in use, or not an address of this host
            self.bound_port = 0
        if self.bound_port == 0:
            raise ConfigError(f"services.{self.name}.port", f"cannot bind {bind} (address in use?)")
        await self._server.start()
        if self._metrics_port is not None:
            try:
                self._metrics_http = start_metrics_server(self._metrics_port, self._bind_host)
            except OSError as exc:
                await self._server.stop(0)
                raise ConfigError(f"services.{self.name}.metrics_port",
                                  f"cannot bind {self._bind_host}:{self._metrics_port}: {exc.strerror}") from None
            self.metrics_bound_port = self._metrics_http[0].server_port
        self._started = True
        if self.backups.config.interval_s > 0:
            self._backup_task = asyncio.get_running_loop().create_task(
                maintenance.backup_schedule(self.backups, self.backups.config.interval_s))
        await self._publish_health(self._ready)
        publish_address(self.settings.data_dir, self.name, self._connect_host, self.bound_port,
                        self.metrics_bound_port)
        log.info("serving", service=self.name, address=self.address, metrics_port=self.metrics_bound_port,
                 ready=self._ready)
        return self.bound_port

    async def stop(self, grace: float = DEFAULT_GRACE_SECONDS) -> None:
        """NOT_SERVING first (so balancers and the supervisor see it), then drain, then clean up."""
        if not self._started:
            self.backups.release_service_lock()  # setup failed after prepare: nothing else to undo
            return
        self._started = False
        if self.bound_port:
            withdraw_address(self.settings.data_dir, self.name, self.bound_port)
        await maintenance.cancel(self._backup_task)
        self._backup_task = None
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace)
        for callback in reversed(self._shutdown_callbacks):
            try:
                result = callback()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("shutdown callback failed", service=self.name)
        if self._metrics_http is not None:
            server, thread = self._metrics_http
            server.shutdown()
            server.server_close()
            self._metrics_http = None
        log.info("stopped", service=self.name)

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()


def parse_service_args(name: str, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m services.{name}", description=f"Realm {name} service")
    parser.add_argument("--config", help="path to realm.yaml (default: $REALM_CONFIG or ./realm.yaml)")
    parser.add_argument("--port", type=int, help="override the configured port (0 = any free port)")
    parser.add_argument("--restore-backup", metavar="NAME",
                        help="restore backup services/<name>/backups/<id> while the service is stopped, then exit")
    return parser.parse_args(argv)


async def serve(settings: Settings, name: str, setup: Setup, *, port: int | None = None,
                grace: float = DEFAULT_GRACE_SECONDS) -> None:
    server = ServiceServer(settings, name, port=port)
    await server.prepare()
    await setup(server)
    await server.start()
    stop_requested = server.stop_requested  # SIGTERM/SIGINT, or a staged restore (MaintenanceService)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop_requested.set)
    await stop_requested.wait()
    log.info("shutting down", service=name, grace_seconds=grace)
    await server.stop(grace)


def run_service(name: str, setup: Setup, argv: list[str] | None = None) -> None:
    """Process entry point for `python -m services.<name>`."""
    die_with_parent_from_env(signal.SIGTERM)  # under the supervisor: end with it, however it ends
    args = parse_service_args(name, argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logging_section = settings.log_settings()
    configure_logging(logging_section.get("level", "info"), logging_section.get("format", "auto"), service=name)
    if args.restore_backup:
        raise SystemExit(restore_offline(settings, name, args.restore_backup))
    grace = float(settings.section(name).get("shutdown_grace_seconds", DEFAULT_GRACE_SECONDS))
    try:
        asyncio.run(serve(settings, name, setup, port=args.port, grace=grace))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def restore_offline(settings: Settings, name: str, backup_name: str) -> int:
    """The offline restore step: refused while the service answers at its address or holds its lock."""
    from services.kit.errors import RealmError
    from services.kit.health import probe

    endpoint = settings.services.get(name)
    if endpoint is not None and probe(endpoint, timeout=1.0).state != "UNREACHABLE":
        print(f"error: the {name} service answers at {endpoint.address}; stop it first (realm down), "
              "or restore online with `realm backup restore`", file=sys.stderr)
        return 1
    try:
        record = manager_for(settings, name).restore_offline(backup_name)
    except RealmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"restored": record.name, "files": [f.to_dict() for f in record.files]}))
    return 0
