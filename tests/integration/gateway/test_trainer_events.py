"""/api/v1/events:stream over a real trainer: it starts from now (the trainer's StreamEvents from_now: no replay of
its history), `?replay=true` sends the history, `Last-Event-ID` resumes exactly after it, and from_now with
replay is a caller error."""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
import pytest

from fixtures.kit import ADMIN_TOKEN, READ_TOKEN, make_test_settings, serve_for_test
from realm.sdk import connect
from services.trainer.app import build_domain
from services.trainer.app import setup as trainer_setup

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READ = {"Authorization": f"Bearer {READ_TOKEN}"}
STREAM = "/api/v1/events:stream"


@pytest.fixture
async def trainer_gateway(tmp_path, start_gateway):
    settings = make_test_settings(tmp_path)
    domain = build_domain(settings, realm=connect(addresses={}, token=ADMIN_TOKEN))

    async def setup(server):
        await trainer_setup(server, domain=domain)

    async with serve_for_test(settings, "trainer", setup) as trainer:
        async with start_gateway(settings, {"trainer": trainer.address}, heartbeat_seconds=30) as running:
            async with aiohttp.ClientSession(running.url) as session:
                yield session


class Toggler:
    """Each call changes the trainer's run state (paused <-> idle): one RUN_STATE_CHANGED event."""

    def __init__(self, session) -> None:
        self.session = session
        self.paused = False

    async def __call__(self) -> None:
        verb = "resume" if self.paused else "pause"
        async with self.session.post(f"/api/v1/run:{verb}", headers=ADMIN, json={}) as response:
            assert response.status == 200, await response.text()
        self.paused = not self.paused


async def sequences(session) -> list[int]:
    """The ids of the whole history (history_only asks for history: the stream is not started from now)."""
    async with session.get(STREAM, params={"history_only": "true"}, headers=READ) as response:
        text = await response.text()
    return [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]


@contextlib.asynccontextmanager
async def frames(session, **kwargs):
    """An open SSE response and a queue of its (id, data) events, read by a task."""
    queue: asyncio.Queue = asyncio.Queue()
    async with session.get(STREAM, **kwargs) as response:
        assert response.status == 200, await response.text()

        async def read():
            event_id = None
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    await queue.put((event_id, json.loads(line[6:])))

        reader = asyncio.ensure_future(read())
        try:
            yield queue
        finally:
            reader.cancel()


async def test_events_start_from_now_without_replaying_the_history(trainer_gateway):
    session = trainer_gateway
    toggle = Toggler(session)
    for _ in range(4):
        await toggle()
    before = await sequences(session)
    assert len(before) >= 4
    async with frames(session, headers=READ) as received:
        first = asyncio.ensure_future(received.get())
        while not first.done():  # an event published before the stream started is never sent
            await toggle()
            await asyncio.wait([first], timeout=0.2)
        first_id, data = first.result()
        assert first_id > before[-1] and first_id == int(data["event"]["sequence"])
        assert data["event"]["kind"] == "EVENT_KIND_RUN_STATE_CHANGED"
        await toggle()
        last = (await sequences(session))[-1]
        seen = [first_id]
        while seen[-1] != last:
            seen.append((await asyncio.wait_for(received.get(), 30))[0])
        assert seen == list(range(first_id, last + 1))


async def test_replay_and_last_event_id_still_send_history(trainer_gateway):
    session = trainer_gateway
    toggle = Toggler(session)
    for _ in range(3):
        await toggle()
    everything = await sequences(session)
    async with frames(session, params={"replay": "true"}, headers=READ) as received:
        replayed = [(await asyncio.wait_for(received.get(), 30))[0] for _ in everything]
    assert replayed == everything
    async with frames(session, headers={**READ, "Last-Event-ID": str(everything[0])}) as received:
        resumed = [(await asyncio.wait_for(received.get(), 30))[0] for _ in everything[1:]]
    assert resumed == everything[1:]


async def test_from_now_with_replay_is_a_caller_error(trainer_gateway):
    async with trainer_gateway.get(STREAM, params={"replay": "true", "from_now": "true"}, headers=READ) as response:
        assert response.status == 400
        assert "from_now" in (await response.json())["message"]
