"""A real gateway on 127.0.0.1 port 0 in front of real services (also on port 0)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from services.gateway.app import GATEWAY_KEY, Gateway, create_app, make_runner
from services.gateway.config import config_from_settings


@dataclass
class RunningGateway:
    gateway: Gateway
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def gauge(self, name: str, **labels: str) -> float:
        return self.gateway.metrics.value(name, **labels)


@contextlib.asynccontextmanager
async def serve_gateway(settings, addresses: dict[str, str], **overrides):
    app = create_app(config_from_settings(settings, addresses, **overrides))
    runner = make_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield RunningGateway(app[GATEWAY_KEY], port)
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def http(gateway: RunningGateway):
    async with aiohttp.ClientSession(gateway.url) as session:
        yield session


async def wait_until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll a condition the code under test changes on its own (a gauge going back down)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def start_gateway():
    """`async with start_gateway(settings, addresses, **config_overrides) as gw:` — a RunningGateway."""
    return serve_gateway


@pytest.fixture
def until():
    return wait_until
