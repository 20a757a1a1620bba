"""The Oracle's vote RPCs of CurriculumService (votes.proto): proto -> VoteBook -> proto, off the event loop.

A mixin of CurriculumServicer (one gRPC service holds both); `votes` is set by app.py.
"""

from __future__ import annotations

import asyncio

from realm.curriculum.v1 import votes_pb2 as vpb
from services.curriculum.votes import Choice, PairTally, Side, Vote, VoteBook
from services.kit.convert import to_timestamp
from services.kit.errors import FailedPrecondition, InvalidArgument

_CHOICES = {vpb.VOTE_CHOICE_A: Choice.A, vpb.VOTE_CHOICE_B: Choice.B, vpb.VOTE_CHOICE_TIE: Choice.TIE}
_CHOICES_PB = {v: k for k, v in _CHOICES.items()}


def vote_from_pb(request: vpb.RecordVoteRequest) -> Vote:
    vote = request.vote
    if vote.choice not in _CHOICES:
        raise InvalidArgument("must be VOTE_CHOICE_A, VOTE_CHOICE_B or VOTE_CHOICE_TIE", field="vote.choice")
    return Vote(vote_id=request.vote_id, campaign=vote.campaign, a=Side(vote.a.model, vote.a.asset),
                b=Side(vote.b.model, vote.b.asset), choice=_CHOICES[vote.choice], prompt=vote.prompt,
                seed=vote.seed, create_time=0.0)


def vote_to_pb(vote: Vote) -> vpb.Vote:
    return vpb.Vote(name=vote.name, campaign=vote.campaign, a=vpb.VoteSide(model=vote.a.model, asset=vote.a.asset),
                    b=vpb.VoteSide(model=vote.b.model, asset=vote.b.asset), choice=_CHOICES_PB[vote.choice],
                    prompt=vote.prompt, seed=vote.seed, create_time=to_timestamp(vote.create_time))


def pair_to_pb(pair: PairTally) -> vpb.PairTally:
    return vpb.PairTally(first=pair.first, second=pair.second, first_wins=pair.first_wins,
                         second_wins=pair.second_wins, ties=pair.ties)


class VoteRpcs:
    votes: VoteBook | None = None

    def _book(self) -> VoteBook:
        if self.votes is None:
            raise FailedPrecondition("votes are not configured on this curriculum service")
        return self.votes

    async def RecordVote(self, request: vpb.RecordVoteRequest, context) -> vpb.RecordVoteResponse:
        vote, pair = await asyncio.to_thread(self._book().record, vote_from_pb(request))
        return vpb.RecordVoteResponse(vote=vote_to_pb(vote), pair=pair_to_pb(pair))

    async def GetVoteTally(self, request: vpb.GetVoteTallyRequest, context) -> vpb.GetVoteTallyResponse:
        tally = await asyncio.to_thread(self._book().tally, request.campaign)
        return vpb.GetVoteTallyResponse(
            checkpoints=[vpb.CheckpointTally(checkpoint=c.checkpoint, wins=c.wins, losses=c.losses, ties=c.ties,
                                             votes=c.votes) for c in tally.checkpoints],
            pairs=[pair_to_pb(p) for p in tally.pairs], total_votes=tally.total_votes)

