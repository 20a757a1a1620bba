"""The Oracle's blind votes: validation, idempotent ids, tallies per checkpoint and pair, and durability."""

from __future__ import annotations

import pytest

from services.curriculum.votes import Choice, Side, Vote, VoteBook, tally
from services.kit.errors import AlreadyExists, InvalidArgument

A = Side("models/one", "assets/ck-a")
B = Side("models/two", "assets/ck-b")


def vote(choice=Choice.A, a=A, b=B, vote_id="", campaign="", prompt="2+2?", seed=7) -> Vote:
    return Vote(vote_id, campaign, a, b, choice, prompt, seed, 0.0)


@pytest.fixture
def book(tmp_path):
    book = VoteBook(tmp_path / "votes.db", clock=iter(range(1000, 2000)).__next__)
    yield book
    book.close()


def test_tally_counts_wins_losses_and_ties_by_served_checkpoint():
    votes = [vote(Choice.A), vote(Choice.B, a=B, b=A), vote(Choice.TIE), vote(Choice.B)]
    result = tally(votes)
    by_name = {c.checkpoint: c for c in result.checkpoints}
    # vote 2: A is on side B and wins again
    assert (by_name["assets/ck-a"].wins, by_name["assets/ck-a"].losses, by_name["assets/ck-a"].ties) == (2, 1, 1)
    assert (by_name["assets/ck-b"].wins, by_name["assets/ck-b"].losses, by_name["assets/ck-b"].ties) == (1, 2, 1)
    assert result.total_votes == 4 and by_name["assets/ck-a"].votes == 4
    [pair] = result.pairs
    assert (pair.first, pair.second, pair.first_wins, pair.second_wins, pair.ties) == (
        "assets/ck-a", "assets/ck-b", 2, 1, 1)


def test_a_local_directory_model_counts_by_model_id():
    result = tally([vote(Choice.B, b=Side("models/local-dir", ""))])
    assert {c.checkpoint: c.wins for c in result.checkpoints} == {"assets/ck-a": 0, "models/local-dir": 1}


def test_record_returns_the_pair_tally_and_survives_reopening(tmp_path, book):
    book.record(vote(Choice.A, campaign="campaigns/road"))
    stored, pair = book.record(vote(Choice.TIE, campaign="campaigns/road"))
    assert stored.name.startswith("votes/") and stored.create_time > 0
    assert (pair.first_wins, pair.second_wins, pair.ties) == (1, 0, 1)
    book.record(vote(Choice.B, campaign="campaigns/other"))
    book.close()
    reopened = VoteBook(tmp_path / "votes.db")
    try:
        assert reopened.tally().total_votes == 3
        assert reopened.tally("campaigns/road").total_votes == 2
    finally:
        reopened.close()


def test_a_retried_vote_id_counts_once_and_a_different_one_under_that_id_is_refused(book):
    first, _ = book.record(vote(Choice.A, vote_id="v-1"))
    again, pair = book.record(vote(Choice.A, vote_id="v-1"))
    assert again == first and pair.first_wins == 1 and book.tally().total_votes == 1
    with pytest.raises(AlreadyExists) as err:
        book.record(vote(Choice.B, vote_id="v-1"))
    assert err.value.field == "vote_id"


@pytest.mark.parametrize(("bad", "field"), [
    (vote(a=Side("one", "assets/x")), "vote.a.model"),
    (vote(b=Side("models/two", "ck-b")), "vote.b.asset"),
    (vote(b=A), "vote.b"),
    (vote(vote_id="Not OK"), "vote_id"),
    (vote(campaign="road"), "vote.campaign"),
    (vote(prompt="x" * 20000), "vote.prompt"),
    (vote(seed=-1), "vote.seed"),
])
def test_bad_votes_are_refused_naming_the_field(book, bad, field):
    with pytest.raises(InvalidArgument) as err:
        book.record(bad)
    assert err.value.field == field
    assert book.tally().total_votes == 0


def test_tally_refuses_a_malformed_campaign(book):
    with pytest.raises(InvalidArgument) as err:
        book.tally("road")
    assert err.value.field == "campaign"
