"""SSE over a real vault's ledger stream: ids are sequences, Last-Event-ID resumes exactly after, streams start
from now unless asked to replay, heartbeats, and a client that leaves (even before any event) leaves nothing."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from prometheus_client import REGISTRY

from fixtures.kit import ADMIN_TOKEN, READ_TOKEN, make_test_settings, serve_for_test
from services.vault.app import setup as vault_setup

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READ = {"Authorization": f"Bearer {READ_TOKEN}"}
WATCH = "/api/v1/ledger:watch"


@pytest.fixture
async def ledger(tmp_path, start_gateway):
    settings = make_test_settings(tmp_path)
    async with serve_for_test(settings, "vault", vault_setup) as vault:
        async with start_gateway(settings, {"vault": vault.address}, heartbeat_seconds=0.05) as running:
            async with aiohttp.ClientSession(running.url) as session:
                yield session, running


async def note(session, text: str) -> int:
    async with session.post("/api/v1/ledger", headers=ADMIN,
                            json={"event": {"kind": "LEDGER_EVENT_KIND_NOTE", "message": text}}) as response:
        assert response.status == 200, await response.text()
        return int((await response.json())["event"]["sequence"])


async def events(response, count: int) -> list[tuple[int, dict]]:
    """The next `count` data events as (id, data); comments are skipped."""
    found, event_id = [], None
    while len(found) < count:
        line = (await asyncio.wait_for(response.content.readline(), 30)).decode().rstrip("\n")
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: "):
            found.append((event_id, json.loads(line[6:])))
    return found


async def test_ids_are_sequences_and_last_event_id_resumes_without_gap_or_duplicate(ledger):
    session, _ = ledger
    written = [await note(session, f"n{i}") for i in range(6)]
    async with session.get(WATCH, params={"replay": "true"}, headers=READ) as response:
        first = await events(response, 3)
    assert [i for i, _ in first] == [int(d["event"]["sequence"]) for _, d in first]
    seen = first[-1][0]
    later = [await note(session, f"m{i}") for i in range(2)]
    async with session.get(WATCH, headers={**READ, "Last-Event-ID": str(seen)}) as response:
        resumed = await events(response, len([s for s in written + later if s > seen]))
    assert [i for i, _ in resumed] == [s for s in written + later if s > seen]
    async with session.get(WATCH, params={"last_event_id": str(seen)}, headers=READ) as response:
        by_query = await events(response, 2)
    assert [i for i, _ in by_query] == [s for s in written + later if s > seen][:2]


async def test_streams_start_from_now_unless_asked_to_replay(ledger):
    session, _ = ledger
    for i in range(3):
        await note(session, f"old{i}")
    async with session.get(WATCH, headers=READ) as response:
        assert (await response.content.readline()) == b": connected\n"  # headers and a first line at once
        fresh = await note(session, "new")
        [(event_id, data)] = await events(response, 1)
    assert event_id == fresh and data["event"]["message"] == "new"
    async with session.get(WATCH, params={"replay": "1"}, headers=READ) as response:
        [(event_id, data)] = await events(response, 1)
    assert data["event"]["message"] == "old0"


async def test_quiet_streams_send_heartbeat_comments(ledger):
    session, _ = ledger
    async with session.get(WATCH, headers=READ) as response:
        lines = [await asyncio.wait_for(response.content.readline(), 30) for _ in range(4)]
    assert b": heartbeat\n" in lines


async def test_a_client_gone_before_the_first_event_leaves_no_stream_behind(ledger, until):
    session, running = ledger
    label = "/api/v1/ledger:watch"

    def backend_streams() -> float:
        return REGISTRY.get_sample_value("realm_rpc_in_flight", {"service": "vault", "method": "WatchLedger"}) or 0

    baseline_backend = backend_streams()
    for _ in range(3):
        response = await session.get(WATCH, headers=READ)
        assert (await response.content.readline()) == b": connected\n"
        await until(lambda: backend_streams() == baseline_backend + 1, what="the backend stream to open")
        assert running.gauge("realm_gateway_upstream_streams_in_flight", route=label) == 1
        response.close()  # gone before any event
        await until(lambda: running.gauge("realm_gateway_upstream_streams_in_flight", route=label) == 0,
                    what="the gateway to drop its upstream call")
        await until(lambda: backend_streams() == baseline_backend, what="the vault to see the cancel")
        assert running.gauge("realm_gateway_sse_clients", route=label) == 0


async def test_bad_resume_ids_are_caller_errors(ledger):
    session, _ = ledger
    async with session.get(WATCH, headers={**READ, "Last-Event-ID": "yesterday"}) as response:
        assert response.status == 400 and "Last-Event-ID" in (await response.json())["message"]
    async with session.get(WATCH, params={"replay": "maybe"}, headers=READ) as response:
        assert response.status == 400
