"""The gateway over a real warden: REST from annotations under /api, auth passed through, SSE, OpenAPI, health."""

import asyncio
import json

import aiohttp
import pytest

from fixtures.kit import READ_TOKEN, make_test_settings, serve_for_test
from services.warden.app import setup

pytestmark = pytest.mark.integration


@pytest.fixture
async def gateway(tmp_path, start_gateway):
    settings = make_test_settings(tmp_path, warden={"probe_interval_seconds": 0.2})
    async with serve_for_test(settings, "warden", setup) as warden:
        async with start_gateway(settings, {"warden": warden.address}) as running:
            async with aiohttp.ClientSession(running.url) as session:
                yield session


AUTH = {"Authorization": f"Bearer {READ_TOKEN}"}


async def test_health_openapi_and_tavern(gateway):
    async with gateway.get("/healthz") as response:
        assert response.status == 200
    async with gateway.get("/openapi.json") as response:
        document = await response.json()
        assert "/api/v1/fleet" in document["paths"] and "/api/v1/campaigns/{campaign}:activate" in document["paths"]
    async with gateway.get("/") as response:
        assert response.status == 200 and "Tavern" in await response.text()


async def test_rest_call_needs_the_callers_token(gateway):
    async with gateway.get("/api/v1/fleet") as response:
        assert response.status == 401
        assert (await response.json())["code"] == 16  # google.rpc.Status: UNAUTHENTICATED
    async with gateway.get("/api/v1/fleet", headers=AUTH) as response:
        assert response.status == 200
        assert "status" in await response.json()
    async with gateway.get("/api/v1/hosts/nowhere", headers=AUTH) as response:
        assert response.status == 404
    async with gateway.get("/api/v1/hosts?page_size=-1", headers=AUTH) as response:
        assert response.status == 400 and "page_size" in (await response.json())["message"]
    async with gateway.get("/api/v1/hosts?bogus=1", headers=AUTH) as response:
        assert response.status == 400 and "bogus" in (await response.json())["message"]
    async with gateway.get("/api/v1/no/such/route", headers=AUTH) as response:
        assert response.status == 404


async def test_server_stream_becomes_sse(gateway):
    async with gateway.get("/api/v1/fleet:watch", headers=AUTH) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert (await asyncio.wait_for(response.content.readline(), 10)) == b": connected\n"  # headers at once
        assert (await asyncio.wait_for(response.content.readline(), 10)) == b"\n"
        assert (await asyncio.wait_for(response.content.readline(), 10)) == b"id: 1\n"
        line = await asyncio.wait_for(response.content.readline(), 10)
        assert line.startswith(b"data: ")
        assert "status" in json.loads(line[6:])
