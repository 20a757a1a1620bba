"""StreamEvents(from_now=True) over a real trainer service: only events published after the call starts (run-state
changes from Pause/Resume here), none of the history before it, no gap after the first; after_sequence wins over
from_now; from_now with history_only is a caller error naming the field."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import pytest

from fixtures.kit import ADMIN_TOKEN, make_test_settings, serve_for_test
from realm.sdk import connect
from realm.sdk.aio import connect_aio
from realm.trainer.v1 import trainer_pb2 as pb
from services.trainer.app import build_domain
from services.trainer.app import setup as trainer_setup

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def trainer_alone(tmp_path):
    """A trainer with no other service configured: its run controller idles, Pause/Resume change its state."""
    settings = make_test_settings(tmp_path)
    domain = build_domain(settings, realm=connect(addresses={}, token=ADMIN_TOKEN))

    async def setup(server):
        await trainer_setup(server, domain=domain)

    async with serve_for_test(settings, "trainer", setup) as running:
        realm = connect_aio(addresses={"trainer": running.address}, token=ADMIN_TOKEN)
        try:
            yield realm.client("trainer")
        finally:
            await realm.close()


class Toggler:
    """Each call changes the run state (paused <-> idle), so the trainer publishes one event."""

    def __init__(self, trainer) -> None:
        self.trainer = trainer
        self.paused = False

    async def __call__(self) -> None:
        if self.paused:
            await self.trainer.ResumeTraining(pb.ResumeTrainingRequest())
        else:
            await self.trainer.PauseTraining(pb.PauseTrainingRequest(reason="probe"))
        self.paused = not self.paused


async def history(trainer, after: int = 0, **fields) -> list[int]:
    call = trainer.StreamEvents(pb.StreamEventsRequest(after_sequence=after, history_only=True, **fields))
    return [response.event.sequence async for response in call]


async def test_from_now_skips_the_history_and_then_misses_nothing(tmp_path):
    async with trainer_alone(tmp_path) as trainer:
        toggle = Toggler(trainer)
        for _ in range(4):
            await toggle()
        before = await history(trainer)
        assert len(before) >= 4
        call = trainer.StreamEvents(pb.StreamEventsRequest(from_now=True))
        responses = aiter(call)
        first_event = asyncio.ensure_future(anext(responses))
        try:
            while not first_event.done():  # an event published before the call started is never sent
                await toggle()
                await asyncio.wait([first_event], timeout=0.2)
            first = first_event.result().event
            assert first.sequence > before[-1] and first.kind == pb.EVENT_KIND_RUN_STATE_CHANGED
            await toggle()
            last = (await history(trainer))[-1]
            seen = [first.sequence]
            while seen[-1] != last:
                seen.append((await anext(responses)).event.sequence)
            assert seen == list(range(first.sequence, last + 1))
        finally:
            call.cancel()


async def test_after_sequence_wins_over_from_now_and_history_only_is_refused(tmp_path):
    async with trainer_alone(tmp_path) as trainer:
        toggle = Toggler(trainer)
        for _ in range(3):
            await toggle()
        everything = await history(trainer)
        assert await history(trainer, everything[0], from_now=True) == everything[1:]
        with pytest.raises(grpc.RpcError) as info:
            await history(trainer, from_now=True)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details().startswith("from_now:"), info.value.details()
