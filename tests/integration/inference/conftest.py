"""Real servers on 127.0.0.1:0 in a background event loop, so tests use the synchronous SDK as users do."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

import pytest
import torch

from fixtures.heroes import build_test_hero
from fixtures.kit import make_test_settings, serve_for_test
from services.inference.app import setup as inference_setup
from services.kit.config import SERVICE_NAMES

torch.set_num_threads(1)


class ServicesThread:
    """Starts services one after another in one background loop; `started[name]` is its RunningService."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.started: dict = {}
        self._stack: contextlib.AsyncExitStack | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self, settings, name: str, setup):
        async def enter():
            if self._stack is None:
                self._stack = contextlib.AsyncExitStack()
            self.started[name] = await self._stack.enter_async_context(serve_for_test(settings, name, setup))
            return self.started[name]

        return self.run(enter())

    def stop(self) -> None:
        if self._stack is not None:
            self.run(self._stack.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="session")
def hero_dir(tmp_path_factory) -> Path:
    return build_test_hero(tmp_path_factory.mktemp("hero") / "tiny-hero")


def inference_settings(tmp_path: Path, vault_port: int | None = None, **inference):
    services = {name: {"host": "local", "port": 0} for name in SERVICE_NAMES}
    if vault_port is not None:
        services["vault"]["port"] = vault_port
    section = {"max_batch_size": 8, "max_queue": 4, "limits": {"max_new_tokens": 4096}, **inference}
    return make_test_settings(tmp_path, services=services, inference=section)


@pytest.fixture
def services():
    running = ServicesThread()
    yield running
    running.stop()


@pytest.fixture
def inference(services, tmp_path):
    """A started inference service with no default model; `.connect(token)` gives the SDK."""
    return services.start(inference_settings(tmp_path), "inference", inference_setup)
