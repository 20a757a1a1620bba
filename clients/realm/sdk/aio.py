"""The SDK on grpc.aio: the same services, deadlines, retries and request ids, with no OS thread per call.

`connect_aio(addresses=..., token=...)` returns an AsyncRealm whose clients return grpc.aio call objects:
await a unary call; `async for` over a server stream; pass an async iterator to a client stream. `.cancel()` on a
call stops it at once. A server acting for many callers keeps one AsyncRealm (one channel per target per event
loop) and takes a per-caller view with `realm.for_token(token)`: the caller's token, or none at all. The token
is never borrowed from the environment unless `ambient_token=True` is asked for.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Iterable, Mapping
from typing import Any

import grpc

from realm.sdk.core import (
    MAX_MESSAGE_BYTES,
    SERVICES,
    TOKEN_ENV,
    ServiceSpec,
    current_request_id,
    default_timeout,
    retry_service_config,
)


class AsyncChannels:
    """One grpc.aio channel per (target, service); aio channels belong to the loop that made them."""

    def __init__(self) -> None:
        self._channels: dict[tuple[str, str], grpc.aio.Channel] = {}
        self._stubs: dict[tuple[str, str], Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self, target: str, spec: ServiceSpec) -> grpc.aio.Channel:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new loop (tests) cannot use the old loop's channels
            self._channels.clear()
            self._stubs.clear()
            self._loop = loop
        key = (target, spec.name)
        channel = self._channels.get(key)
        if channel is None:
            channel = grpc.aio.insecure_channel(target, options=[
                ("grpc.service_config", retry_service_config(spec)),
                ("grpc.enable_retries", 1),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ])
            self._channels[key] = channel
        return channel

    def stub(self, target: str, spec: ServiceSpec):
        """The generated stub over the shared channel; built once (a stub makes a callable per RPC)."""
        channel = self.get(target, spec)
        key = (target, spec.name)
        stub = self._stubs.get(key)
        if stub is None:
            stub = self._stubs[key] = spec.stub(channel)
        return stub

    async def close(self) -> None:
        channels, self._channels, self._stubs = list(self._channels.values()), {}, {}
        for channel in channels:
            await channel.close()


@functools.cache
def _methods(spec: ServiceSpec) -> dict[str, Any]:
    service = spec.module.DESCRIPTOR.services_by_name[spec.full_name.rsplit(".", 1)[-1]]
    return {m.name: m for m in service.methods}


class AsyncServiceClient:
    """`await client.GetAsset(request)`, `async for m in client.StreamEvents(request)`; metadata added."""

    def __init__(self, spec: ServiceSpec, stub, token: str | None, timeout: float | None = None,
                 request_id: str | None = None) -> None:
        self.spec = spec
        self.messages = spec.module
        self._token = token
        self._timeout_override = timeout
        self._request_id = request_id
        self._stub = stub
        self._methods = _methods(spec)

    def metadata(self, extra: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
        md = [("x-request-id", self._request_id or current_request_id())]
        if self._token:
            md.append(("authorization", f"Bearer {self._token}"))
        md.extend(extra)
        return md

    def method(self, name: str):
        return self._methods[name]

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
            return stub_method(request, timeout=timeout if timeout is not None else timeout_default,
                               metadata=self.metadata(metadata), **kwargs)

        call.__name__ = name
        call.__doc__ = f"{self.spec.full_name}/{name} (grpc.aio)"
        return call


class AsyncRealm:
    """`realm.vault`, `realm.trainer`, … as AsyncServiceClients sharing one set of aio channels."""

    def __init__(self, addresses: Mapping[str, str], token: str | None = None, timeout: float | None = None,
                 channels: AsyncChannels | None = None, request_id: str | None = None) -> None:
        self.addresses = dict(addresses)
        self.token = token
        self._timeout = timeout
        self._channels = channels or AsyncChannels()
        self._request_id = request_id

    def for_token(self, token: str | None, *, request_id: str | None = None) -> AsyncRealm:
        """A view that acts with exactly this token (None: anonymous) over the same channels."""
        return AsyncRealm(self.addresses, token, self._timeout, self._channels, request_id)

    def has(self, service: str) -> bool:
        return service in self.addresses

    def client(self, service: str, spec: ServiceSpec | None = None) -> AsyncServiceClient:
        """The service's own client; with `spec`, that gRPC service at this service's address (e.g. the kit's
        MaintenanceService, which every service serves)."""
        if service not in SERVICES:
            raise KeyError(f"unknown service {service!r}")
        if service not in self.addresses:
            raise KeyError(f"no address configured for service {service!r}")
        spec = spec or SERVICES[service]
        return AsyncServiceClient(spec, self._channels.stub(self.addresses[service], spec), self.token,
                                  self._timeout, self._request_id)

    def channel(self, service: str) -> grpc.aio.Channel:
        """The shared channel to a service (e.g. for its grpc.health.v1 Health stub)."""
        return self._channels.get(self.addresses[service], SERVICES[service])

    async def close(self) -> None:
        await self._channels.close()

    vault = property(lambda self: self.client("vault"))
    curriculum = property(lambda self: self.client("curriculum"))
    inference = property(lambda self: self.client("inference"))
    trainer = property(lambda self: self.client("trainer"))
    warden = property(lambda self: self.client("warden"))


def connect_aio(config: Any = None, *, token: str | None = None, addresses: Mapping[str, str] | None = None,
                timeout: float | None = None, ambient_token: bool = False) -> AsyncRealm:
    """Like `realm.sdk.connect`, on grpc.aio. Only `token` counts unless `ambient_token=True` (then
    $REALM_TOKEN, else the config's client token, fill in a missing one)."""
    settings = None
    if config is not None and not isinstance(config, str | os.PathLike):
        settings = config
    elif config is not None:
        from realm.sdk.core import connect

        settings = connect(config, addresses=addresses, ambient_token=False).settings
    resolved: dict[str, str] = {}
    if settings is not None:
        resolved.update({name: svc.address for name, svc in settings.services.items() if name in SERVICES})
    resolved.update(addresses or {})
    if token is None and ambient_token:
        token = os.environ.get(TOKEN_ENV) or (settings.client_token() if settings is not None else None)
    return AsyncRealm(resolved, token, timeout)
