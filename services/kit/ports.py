"""Ports: where a running service publishes the address it bound, and free ports for configs that must name them.

A server started on port 0 (`python -m services.<name> --port 0`, or `services.<name>.port: 0`) gets a free port
from the kernel with no race. Whoever started it learns that port from the publication: once the server listens,
the kit writes `<data_dir>/run/<name>.address.json` atomically (services.kit.files) —

    {"service": "vault", "pid": 4242, "address": "127.0.0.1:40123", "port": 40123, "metrics_port": null}

`address` is what clients dial (the host's connect address), `pid` tells a fresh publication from one a killed
predecessor left behind. A clean stop removes the file (only while it is still this process's).

`free_ports` is for the other case only: a config that must name fixed ports before anything starts (the
supervisor's realm.yaml, a docker fleet, a benchmark). The ports are free when returned, not reserved: another
process may take one before the service binds it, so a caller must expect "address in use" (and retry).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import structlog

from services.kit.files import atomic_write_text

log = structlog.get_logger("realm.ports")


def address_path(data_dir: Path, name: str) -> Path:
    """Where service `name` publishes its bound address: <data_dir>/run/<name>.address.json."""
    return Path(data_dir) / "run" / f"{name}.address.json"


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def publish_address(data_dir: Path, name: str, host: str, port: int, metrics_port: int | None = None) -> Path | None:
    """Publish the port this process bound for `name`; None (and a warning) when the data dir is not writable."""
    path = address_path(data_dir, name)
    record = {"service": name, "pid": os.getpid(), "address": _join(host, port), "port": port,
              "metrics_port": metrics_port}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(record) + "\n")
    except OSError as exc:
        log.warning("cannot publish the bound address", service=name, path=str(path), error=str(exc))
        return None
    return path


def read_address(data_dir: Path, name: str) -> dict[str, Any] | None:
    """The publication of service `name`, or None when there is none (yet)."""
    try:
        record = json.loads(address_path(data_dir, name).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def withdraw_address(data_dir: Path, name: str, port: int) -> None:
    """Remove the publication if it is still this process's own for `port` (a successor may have replaced it)."""
    record = read_address(data_dir, name)
    if record is None or record.get("pid") != os.getpid() or record.get("port") != port:
        return
    try:
        address_path(data_dir, name).unlink()
    except OSError:
        pass


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports free right now (see the module docstring: not reserved; prefer port 0)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()
