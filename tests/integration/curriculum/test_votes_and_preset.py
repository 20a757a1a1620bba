"""Oracle votes and a campaign's scheduling preset over gRPC against a real curriculum server."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from fixtures.kit import READ_TOKEN
from realm.curriculum.v1 import curriculum_pb2 as pb

pytestmark = pytest.mark.integration

A = ("models/one", "assets/ck-a")
B = ("models/two", "assets/ck-b")


async def call(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


async def test_votes_are_tallied_and_a_retry_counts_once(curriculum):
    c = curriculum.connect().curriculum
    first = await call(c.vote, A, B, "a", campaign="road", prompt="2+2?", seed=3, vote_id="v-1")
    assert first.vote.name == "votes/v-1" and first.vote.campaign == "campaigns/road"
    assert (first.pair.first, first.pair.first_wins) == ("assets/ck-a", 1)
    again = await call(c.vote, A, B, "a", campaign="road", prompt="2+2?", seed=3, vote_id="v-1")
    assert again.pair.first_wins == 1
    await call(c.vote, B, A, "tie", campaign="road")
    await call(c.vote, A, B, "b", campaign="other")
    tally = await call(curriculum.connect(token=READ_TOKEN).curriculum.vote_tally, "road")
    assert tally.total_votes == 2
    assert {(t.checkpoint, t.wins, t.losses, t.ties) for t in tally.checkpoints} == {
        ("assets/ck-a", 1, 0, 1), ("assets/ck-b", 0, 1, 1)}
    assert (await call(c.vote_tally)).total_votes == 3


async def test_bad_votes_are_invalid_argument_naming_the_field(curriculum):
    c = curriculum.connect().curriculum
    for kwargs, field in ((dict(a=A, b=A, choice="a"), "vote.b"), (dict(a=A, b=B, choice="sideways"), "vote.choice"),
                          (dict(a=("one", ""), b=B, choice="a"), "vote.a.model")):
        with pytest.raises(grpc.RpcError) as err:
            await call(c.vote, kwargs["a"], kwargs["b"], kwargs["choice"])
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in err.value.details()


async def test_a_read_token_may_count_but_not_vote(curriculum):
    c = curriculum.connect(token=READ_TOKEN).curriculum
    with pytest.raises(grpc.RpcError) as err:
        await call(c.vote, A, B, "a")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_the_campaign_preset_is_kept_and_wins_when_planning(curriculum):
    c = curriculum.connect().curriculum
    skills = [pb.SkillSettings(skill="bin", enabled=True, weight=1.0),
              pb.SkillSettings(skill="syllo", enabled=True, weight=1.0)]
    progress = await call(c.configure, "road", skills, preset="focus:syllo")
    assert progress.preset == "focus:syllo"
    # The trainer's configure (no preset) keeps it.
    assert (await call(c.configure, "road", skills)).preset == "focus:syllo"
    batches = await call(c.plan, "road", "equal", 10)
    assert [(b.skill, b.count) for b in batches] == [("skills/syllo", 10)]
    with pytest.raises(grpc.RpcError) as err:
        await call(c.configure, "road", skills, preset="focus:chess")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "preset" in err.value.details()
    assert (await call(c.progress, "road")).preset == "focus:syllo"
