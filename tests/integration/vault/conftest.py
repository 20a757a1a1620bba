"""A real vault server on 127.0.0.1:0 in a background event loop, so tests can use the synchronous SDK."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

from fixtures.kit import ADMIN_TOKEN, make_test_settings, serve_for_test, write_test_config
from fixtures.ports import wait_for_address
from realm.sdk import connect
from realm.vault.v1 import vault_pb2 as pb
from services.vault.app import setup

ROOT = Path(__file__).resolve().parents[3]


class ServerThread:
    def __init__(self, settings) -> None:
        self.settings = settings
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self.running = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # surfaced to the test through start()
            self.error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with serve_for_test(self.settings, "vault", setup) as running:
            self.running = running
            self._ready.set()
            await self._stop.wait()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(30)
        if self.error:
            raise self.error
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture
def vault_server_factory(tmp_path: Path):
    started: list[ServerThread] = []

    def start(**vault) -> ServerThread:
        settings = make_test_settings(tmp_path, vault={"zones": {"hot": {"path": "zones/hot"},
                                                                 "cold": {"path": "zones/cold"}},
                                                       "default_zone": "hot", **vault})
        started.append(ServerThread(settings).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def vault_server(vault_server_factory):
    return vault_server_factory()


@pytest.fixture
def realm(vault_server):
    return vault_server.running.connect()


@pytest.fixture
def zone_root(tmp_path: Path) -> Path:
    return tmp_path / "zones" / "hot"


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture
def tree():
    return make_tree


@pytest.fixture
def checkpoint_files():
    return {"model.safetensors": os.urandom(3 * 1024 * 1024 + 17), "config.json": b'{"a": 1}',
            "tokenizer/tokenizer.json": os.urandom(2000), "tokenizer/empty.txt": b""}


# -- the vault as its own process (python -m services.vault), for crash tests and cancelled streams --

class VaultProcess:
    """Each start binds port 0 and publishes the port (services.kit.ports); start() returns a client for it."""

    def __init__(self, tmp_path: Path, **vault) -> None:
        self.port: int | None = None
        self.config = write_test_config(tmp_path,
                                        vault={"zones": {"hot": {"path": str(tmp_path / "zones" / "hot")}}, **vault})
        self.data_dir = tmp_path / "var"
        self.log = tmp_path / "vault.log"
        self.proc: subprocess.Popen | None = None

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "services.vault", "--config",
                                          str(self.config), "--port", "0"],
                                         cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.port = wait_for_address(self.data_dir, "vault", self.proc, timeout=30, log=self.log)["port"]
        client = connect(addresses={"vault": f"127.0.0.1:{self.port}"}, token=ADMIN_TOKEN).vault
        deadline = time.monotonic() + 30
        while True:
            try:
                client.GetStats(pb.GetStatsRequest(), timeout=1)
                return client
            except grpc.RpcError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("vault did not start:\n" + self.log.read_text()[-3000:]) from None
                time.sleep(0.1)

    def death_report(self, wait_s: float = 10.0) -> str | None:
        """None while the process lives; else its exit code and the fault handler's current-thread stack."""
        try:
            self.proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            return None
        lines = [line for line in self.log.read_text().splitlines() if not line.startswith("{")]
        at = next((i for i, line in enumerate(lines) if line.startswith("Current thread")), 0)
        return f"the vault process died ({self.proc.returncode}):\n" + "\n".join(lines[:1] + lines[at:at + 6])

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def vault_process(tmp_path):
    started = []

    def make(**vault):
        process = VaultProcess(tmp_path, **vault)
        started.append(process)
        return process

    yield make
    for process in started:
        process.stop()
