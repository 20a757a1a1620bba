"""The SDK's transport: one channel per target per process, deadlines, bearer token, request ids, retries.

Retries are declared in the gRPC service config and apply only to idempotent reads (Get/List/Resolve/Query/
Estimate/Download) on UNAVAILABLE; writes are never retried by the SDK.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from realm.curriculum.v1 import curriculum_pb2, curriculum_pb2_grpc
from realm.inference.v1 import inference_pb2, inference_pb2_grpc
from realm.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from realm.vault.v1 import vault_pb2, vault_pb2_grpc
from realm.warden.v1 import warden_pb2, warden_pb2_grpc

TOKEN_ENV = "REALM_TOKEN"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
IDEMPOTENT_PREFIXES = ("Get", "List", "Resolve", "Query", "Estimate", "Download")
STREAMING_PREFIXES = ("Watch", "Stream")
DEFAULT_TIMEOUT_SECONDS = 30.0
LONG_TIMEOUT_SECONDS = 3600.0


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    full_name: str
    stub: type
    module: Any


SERVICES: dict[str, ServiceSpec] = {
    "vault": ServiceSpec("vault", "realm.vault.v1.VaultService", vault_pb2_grpc.VaultServiceStub, vault_pb2),
    "curriculum": ServiceSpec(
        "curriculum", "realm.curriculum.v1.CurriculumService", curriculum_pb2_grpc.CurriculumServiceStub,
        curriculum_pb2,
    ),
    "inference": ServiceSpec(
        "inference", "realm.inference.v1.InferenceService", inference_pb2_grpc.InferenceServiceStub, inference_pb2
    ),
    "trainer": ServiceSpec("trainer", "realm.trainer.v1.TrainerService", trainer_pb2_grpc.TrainerServiceStub,
                           trainer_pb2),
    "warden": ServiceSpec("warden", "realm.warden.v1.WardenService", warden_pb2_grpc.WardenServiceStub, warden_pb2),
}


def method_names(spec: ServiceSpec) -> list[str]:
    return list(spec.module.DESCRIPTOR.services_by_name[spec.full_name.rsplit(".", 1)[-1]].methods_by_name)


def is_idempotent(method: str) -> bool:
    return method.startswith(IDEMPOTENT_PREFIXES)


def retry_service_config(spec: ServiceSpec, max_attempts: int = 4) -> str:
    reads = [{"service": spec.full_name, "method": m} for m in method_names(spec) if is_idempotent(m)]
    config = {
        "methodConfig": [
            {
                "name": reads,
                "retryPolicy": {
                    "maxAttempts": max_attempts,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
    return json.dumps(config)


_channels: dict[tuple[str, str], grpc.Channel] = {}
_channels_lock = threading.Lock()


def shared_channel(target: str, spec: ServiceSpec) -> grpc.Channel:
    """One channel per (target, service) per process: channels are thread-safe and multiplex calls."""
    key = (target, spec.name)
    with _channels_lock:
        channel = _channels.get(key)
        if channel is None:
            channel = grpc.insecure_channel(
                target,
                options=[
                    ("grpc.service_config", retry_service_config(spec)),
                    ("grpc.enable_retries", 1),
                    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ],
            )
            _channels[key] = channel
        return channel


def close_channels() -> None:
    with _channels_lock:
        for channel in _channels.values():
            channel.close()
        _channels.clear()


def current_request_id() -> str:
    """Propagate the request id of the RPC being served (bound by the kit), else mint one."""
    try:
        import structlog

        bound = structlog.contextvars.get_contextvars().get("request_id")
    except Exception:
        bound = None
    return bound or uuid.uuid4().hex


def default_timeout(method: str, *, client_streaming: bool, server_streaming: bool) -> float | None:
    if method.startswith(STREAMING_PREFIXES):
        return None  # follows until cancelled
    if client_streaming or server_streaming:
        return LONG_TIMEOUT_SECONDS
    return DEFAULT_TIMEOUT_SECONDS


class ServiceClient:
    """Typed access to one service: `client.GetAsset(request)` with token, deadline and request id added.

    Service-specific helpers (e.g. VaultClient.push/pull) subclass this in realm.sdk.<service>.
    """

    def __init__(self, spec: ServiceSpec, target: str, token: str | None, timeout: float | None = None) -> None:
        self.spec = spec
        self.target = target
        self.messages = spec.module
        self._token = token
        self._timeout_override = timeout
        self._stub = spec.stub(shared_channel(target, spec))
        service = spec.module.DESCRIPTOR.services_by_name[spec.full_name.rsplit(".", 1)[-1]]
        self._methods = {m.name: m for m in service.methods}

    def metadata(self, extra: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
        md = [("x-request-id", current_request_id())]
        if self._token:
            md.append(("authorization", f"Bearer {self._token}"))
        md.extend(extra)
        return md

    def __getattr__(self, name: str):
        methods = self.__dict__.get("_methods") or {}
        if name not in methods:
            raise AttributeError(f"{type(self).__name__} has no RPC or attribute {name!r}")
        descriptor = methods[name]
        stub_method = getattr(self._stub, name)
        timeout_default = self._timeout_override or default_timeout(
            name, client_streaming=descriptor.client_streaming, server_streaming=descriptor.server_streaming
        )

        def call(request, *, timeout: float | None = None, metadata: Iterable[tuple[str, str]] = (), **kwargs):
            return stub_method(
                request,
                timeout=timeout if timeout is not None else timeout_default,
                metadata=self.metadata(metadata),
                **kwargs,
            )

        call.__name__ = name
        call.__doc__ = f"{self.spec.full_name}/{name}"
        return call


def _client_class(service: str) -> type[ServiceClient]:
    try:
        module = importlib.import_module(f"realm.sdk.{service}")
    except ModuleNotFoundError as exc:
        if exc.name == f"realm.sdk.{service}":
            return ServiceClient
        raise
    return getattr(module, "CLIENT_CLASS", ServiceClient)


class Realm:
    """Connected SDK: `realm.vault`, `realm.trainer`, `realm.inference`, `realm.curriculum`, `realm.warden`."""

    def __init__(self, addresses: Mapping[str, str], token: str | None, timeout: float | None = None,
                 settings: Any = None) -> None:
        self.addresses = dict(addresses)
        self.token = token
        self.settings = settings
        self._timeout = timeout
        self._clients: dict[str, ServiceClient] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> ServiceClient:
        with self._lock:
            if service not in self._clients:
                if service not in SERVICES:
                    raise KeyError(f"unknown service {service!r}")
                if service not in self.addresses:
                    raise KeyError(f"no address configured for service {service!r}")
                self._clients[service] = _client_class(service)(
                    SERVICES[service], self.addresses[service], self.token, self._timeout
                )
            return self._clients[service]

    vault = property(lambda self: self.client("vault"))
    curriculum = property(lambda self: self.client("curriculum"))
    inference = property(lambda self: self.client("inference"))
    trainer = property(lambda self: self.client("trainer"))
    warden = property(lambda self: self.client("warden"))


def connect(
    config: Any = None,
    *,
    token: str | None = None,
    addresses: Mapping[str, str] | None = None,
    timeout: float | None = None,
    ambient_token: bool = True,
) -> Realm:
    """Connect to Realm.

    `config` is a path to realm.yaml, a loaded Settings, or None ($REALM_CONFIG / ./realm.yaml if present).
    `addresses` overrides service addresses ({"vault": "127.0.0.1:50053"}); with addresses alone no config is read.
    The token is `token`, else $REALM_TOKEN, else the config's client token. With `ambient_token=False` only
    `token` counts (None stays anonymous): a server acting for a caller must never borrow its own credentials.
    """
    settings = None
    if config is not None and not isinstance(config, str | os.PathLike):
        settings = config
    elif config is not None or not addresses:
        from realm.settings import default_config_path, load_settings

        path = Path(config) if config is not None else default_config_path()
        if path.exists() or config is not None:
            settings = load_settings(path)
    resolved: dict[str, str] = {}
    if settings is not None:
        resolved.update({name: svc.address for name, svc in settings.services.items() if name in SERVICES})
    resolved.update(addresses or {})
    if token is None and ambient_token:
        token = os.environ.get(TOKEN_ENV) or (settings.client_token() if settings is not None else None)
    return Realm(resolved, token, timeout, settings)
