"""Helpers for tests: settings on loopback with known tokens, and real servers on port 0."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from services.kit.config import SERVICE_NAMES, Settings, settings_from_dict
from services.kit.server import ServiceServer, Setup

ADMIN_TOKEN = "admin-token"
READ_TOKEN = "read-token"


def config_dict_for_tests(data_dir: Path, **sections: Any) -> dict[str, Any]:
    """A realm.yaml mapping: every service on 127.0.0.1 port 0, literal test tokens."""
    raw: dict[str, Any] = {
        "data_dir": str(data_dir),
        "hosts": {"local": {"address": "127.0.0.1", "roles": ["training", "inference", "storage"]}},
        "services": {name: {"host": "local", "port": 0} for name in SERVICE_NAMES},
        "auth": {
            "tokens": [
                {"name": "admin", "role": "admin", "value": ADMIN_TOKEN},
                {"name": "reader", "role": "read", "value": READ_TOKEN},
            ],
            "client_token": "admin",
        },
        "logging": {"level": "info", "format": "json"},
    }
    for key, value in sections.items():
        raw[key] = copy.deepcopy(value)
    return raw


def make_test_settings(tmp_path: Path, **sections: Any) -> Settings:
    data_dir = Path(tmp_path) / "var"
    data_dir.mkdir(parents=True, exist_ok=True)
    return settings_from_dict(config_dict_for_tests(data_dir, **sections), root=Path(tmp_path), env={})


def write_test_config(tmp_path: Path, ports: dict[str, int] | None = None, **sections: Any) -> Path:
    """Write a realm.yaml for services started as separate processes (fixed ports given in `ports`)."""
    raw = config_dict_for_tests(Path(tmp_path) / "var", **sections)
    for name, port in (ports or {}).items():
        raw["services"][name]["port"] = port
    path = Path(tmp_path) / "realm.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@dataclass
class RunningService:
    server: ServiceServer
    settings: Settings

    @property
    def port(self) -> int:
        assert self.server.bound_port is not None
        return self.server.bound_port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def connect(self, token: str | None = ADMIN_TOKEN, extra_addresses: dict[str, str] | None = None):
        from realm.sdk import connect

        addresses = {self.server.name: self.address, **(extra_addresses or {})}
        return connect(addresses=addresses, token=token)


@contextlib.asynccontextmanager
async def serve_for_test(settings: Settings, name: str, setup: Setup, *, grace: float = 0.5
                         ) -> AsyncIterator[RunningService]:
    """A real grpc.aio server for `name` on 127.0.0.1, port 0, no metrics port."""
    server = ServiceServer(settings, name, port=0, metrics_port=False)
    await setup(server)
    await server.start()
    try:
        yield RunningService(server, settings)
    finally:
        await server.stop(grace)
