"""Client-streaming RPCs take the raw request body, streamed to the service in chunks (never buffered whole), with
the header from the path and query; a body over the route's limit is refused and never commits."""

from __future__ import annotations

import hashlib
import os

import aiohttp
import pytest

from fixtures.kit import ADMIN_TOKEN, make_test_settings, serve_for_test
from services.vault.app import setup as vault_setup

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LIMIT = 2 << 20


async def body_in_pieces(data: bytes, piece: int = 256 << 10):
    for start in range(0, len(data), piece):
        yield data[start:start + piece]


@pytest.fixture
async def vault_api(tmp_path, start_gateway):
    settings = make_test_settings(tmp_path, vault={"zones": {"hot": {"path": "zones/hot"}}, "default_zone": "hot"},
                                  gateway={"body_limits": {"upload_bytes": LIMIT}})
    async with serve_for_test(settings, "vault", vault_setup) as vault:
        async with start_gateway(settings, {"vault": vault.address}) as running:
            async with aiohttp.ClientSession(running.url, headers=ADMIN) as session:
                yield session


async def create_upload(session, data: bytes) -> str:
    files = [{"path": "blob.bin", "size_bytes": str(len(data)), "sha256": hashlib.sha256(data).hexdigest()}]
    async with session.post("/api/v1/uploads", json={"kind": "ASSET_KIND_DATASET", "display_name": "blob",
                                                     "files": files}) as response:
        assert response.status == 200, await response.text()
        return (await response.json())["upload"]["name"]


async def test_a_streamed_body_uploads_and_commits(vault_api):
    data = os.urandom(LIMIT - 12345)
    upload = await create_upload(vault_api, data)
    async with vault_api.post(f"/api/v1/{upload}:write", params={"path": "blob.bin", "offset": "0"},
                              data=body_in_pieces(data)) as response:  # chunked: no Content-Length
        assert response.status == 200, await response.text()
        assert int((await response.json())["file"]["received_bytes"]) == len(data)
    async with vault_api.post(f"/api/v1/{upload}:commit", json={}) as response:
        asset = (await response.json())["asset"]
    assert asset["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()


async def test_an_oversized_body_is_refused_and_nothing_is_written(vault_api):
    data = os.urandom(LIMIT + 1)
    upload = await create_upload(vault_api, data)
    with pytest.raises(aiohttp.ClientError):  # the gateway answers 413 and closes mid-body
        async with vault_api.post(f"/api/v1/{upload}:write", params={"path": "blob.bin", "offset": "0"},
                                  data=body_in_pieces(data)) as response:
            assert response.status == 413
            raise aiohttp.ClientPayloadError("closed as expected")
    async with vault_api.get(f"/api/v1/{upload}") as response:
        progress = (await response.json())["upload"]
    assert not progress.get("committed") and int(progress["files"][0].get("received_bytes", 0)) < len(data)
    async with vault_api.post(f"/api/v1/{upload}:write", params={"path": "blob.bin", "offset": "0"},
                              data=b"x", headers={"Content-Length": str(LIMIT + 1)}) as response:
        assert response.status == 413  # a declared length over the limit: refused before reading
