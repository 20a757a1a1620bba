"""A real gateway on 127.0.0.1 port 0 in front of real services (also on port 0)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
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


def wait_until_sync(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """wait_until for synchronous tests (the servers run on a Background loop)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def until_sync():
    return wait_until_sync


@pytest.fixture
def start_gateway():
    """`async with start_gateway(settings, addresses, **config_overrides) as gw:` — a RunningGateway."""
    return serve_gateway


@pytest.fixture
def until():
    return wait_until


class Background:
    """Servers in an event loop on their own thread, so tests can drive them with the official synchronous
    clients (openai, text-generation, huggingface_hub) exactly as users do."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._stack = contextlib.AsyncExitStack()

    def run(self, coroutine, timeout: float = 300):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def enter(self, context_manager):
        return self.run(self._stack.enter_async_context(context_manager))

    def close(self) -> None:
        self.run(self._stack.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@dataclass
class InferenceStack:
    background: Background
    gateway: RunningGateway
    admin: object  # the synchronous SDK with the admin token, straight to the service
    inference_address: str


@contextlib.contextmanager
def inference_behind_gateway(tmp_path, hero_dir, *, inference: dict | None = None, model_id: str = "default",
                             **gateway_overrides):
    """A real inference service with the tiny hero loaded (as models/default), and a gateway in front of it."""
    from fixtures.kit import make_test_settings, serve_for_test
    from realm.inference.v1 import inference_pb2
    from services.inference.app import setup as inference_setup

    background = Background()
    try:
        settings = make_test_settings(tmp_path, inference={"max_batch_size": 4, **(inference or {})})
        service = background.enter(serve_for_test(settings, "inference", inference_setup))
        admin = service.connect()
        admin.inference.LoadModel(inference_pb2.LoadModelRequest(source=str(hero_dir), model_id=model_id,
                                                                 wait=True), timeout=300)
        running = background.enter(serve_gateway(settings, {"inference": service.address}, **gateway_overrides))
        yield InferenceStack(background, running, admin, service.address)
    finally:
        background.close()


@pytest.fixture(scope="session")
def hero_dir(tmp_path_factory):
    from fixtures.heroes import build_test_hero

    return build_test_hero(tmp_path_factory.mktemp("hero") / "tiny-hero")


@pytest.fixture(scope="session")
def inference_stack():
    """`with inference_stack(tmp_path, hero_dir, inference={...}, **gateway_overrides) as stack:`"""
    return inference_behind_gateway


@pytest.fixture(scope="module")
def served(tmp_path_factory, hero_dir, inference_stack):
    """One inference service + gateway for a whole test module (loading the hero once)."""
    import torch

    torch.set_num_threads(1)
    with inference_stack(tmp_path_factory.mktemp("served"), hero_dir, heartbeat_seconds=0.5) as stack:
        yield stack


async def _enter_async(self, context_manager):
    return await self._stack.enter_async_context(context_manager)


Background.enter_async = _enter_async


@pytest.fixture(scope="session")
def start_background_gateway():
    """`with start_background_gateway(settings, start_services) as url:` — `start_services(background)` is a
    coroutine function that starts the services in the background loop and returns their addresses."""

    @contextlib.contextmanager
    def start(settings, start_services, **overrides):
        background = Background()
        try:
            addresses = background.run(start_services(background))
            running = background.enter(serve_gateway(settings, addresses, **overrides))
            yield running.url
        finally:
            background.close()

    return start
