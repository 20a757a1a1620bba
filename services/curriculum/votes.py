"""Blind votes from the Oracle: a person compares two checkpoints' answers and votes A, B or tie.

The curriculum keeps them because they are a human eval of checkpoints, next to its automatic trials. One SQLite
table (WAL, one transaction per vote); a vote id makes a retried vote count once. Tallies are counted by the
checkpoint that actually served each answer (the asset), or by the model id when there is no asset.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from services.kit.errors import AlreadyExists, InvalidArgument

MAX_PROMPT_CHARS = 16 * 1024
MAX_NAME_CHARS = 512
VOTE_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
CAMPAIGN = re.compile(r"^campaigns/[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Choice(Enum):
    A = "a"
    B = "b"
    TIE = "tie"


@dataclass(frozen=True)
class Side:
    model: str
    asset: str = ""

    @property
    def checkpoint(self) -> str:
        """What the tally counts: the served asset, else the model id."""
        return self.asset or self.model


@dataclass(frozen=True)
class Vote:
    vote_id: str
    campaign: str
    a: Side
    b: Side
    choice: Choice
    prompt: str
    seed: int
    create_time: float

    @property
    def name(self) -> str:
        return f"votes/{self.vote_id}"


@dataclass(frozen=True)
class CheckpointTally:
    checkpoint: str
    wins: int = 0
    losses: int = 0
    ties: int = 0

    @property
    def votes(self) -> int:
        return self.wins + self.losses + self.ties


@dataclass(frozen=True)
class PairTally:
    first: str
    second: str
    first_wins: int = 0
    second_wins: int = 0
    ties: int = 0


@dataclass(frozen=True)
class Tally:
    checkpoints: tuple[CheckpointTally, ...]
    pairs: tuple[PairTally, ...]
    total_votes: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
  id TEXT PRIMARY KEY, campaign TEXT NOT NULL, a_model TEXT NOT NULL, a_asset TEXT NOT NULL,
  b_model TEXT NOT NULL, b_asset TEXT NOT NULL, choice TEXT NOT NULL, prompt TEXT NOT NULL, seed INTEGER NOT NULL,
  create_time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS votes_by_campaign ON votes (campaign, create_time);
"""


def _check_side(side: Side, where: str) -> None:
    if not side.model.startswith("models/") or len(side.model) <= len("models/"):
        raise InvalidArgument(f"must be a model id models/..., got {side.model!r}", field=f"{where}.model")
    if len(side.model) > MAX_NAME_CHARS:
        raise InvalidArgument(f"longer than {MAX_NAME_CHARS} characters", field=f"{where}.model")
    if side.asset and (not side.asset.startswith("assets/") or len(side.asset) > MAX_NAME_CHARS):
        raise InvalidArgument(f"must be empty or an asset name assets/..., got {side.asset!r}",
                              field=f"{where}.asset")


def check_vote(vote: Vote) -> None:
    if vote.vote_id and not VOTE_ID.match(vote.vote_id):
        raise InvalidArgument("must be 1-63 characters of a-z, 0-9 and '-'", field="vote_id")
    if vote.campaign and not CAMPAIGN.match(vote.campaign):
        raise InvalidArgument(f"must be campaigns/{{campaign}}, got {vote.campaign!r}", field="vote.campaign")
    _check_side(vote.a, "vote.a")
    _check_side(vote.b, "vote.b")
    if vote.a.checkpoint == vote.b.checkpoint:
        raise InvalidArgument(f"both answers came from {vote.a.checkpoint}: a vote needs two different checkpoints",
                              field="vote.b")
    if len(vote.prompt) > MAX_PROMPT_CHARS:
        raise InvalidArgument(f"longer than {MAX_PROMPT_CHARS} characters", field="vote.prompt")
    if vote.seed < 0:
        raise InvalidArgument("must be >= 0", field="vote.seed")


class VoteBook:
    def __init__(self, path: Path, clock=time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._clock = clock

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record(self, vote: Vote) -> tuple[Vote, PairTally]:
        """Store a vote (validated); the same id again with the same content returns the first one."""
        check_vote(vote)
        vote_id = vote.vote_id or secrets.token_hex(8)
        row = (vote_id, vote.campaign, vote.a.model, vote.a.asset, vote.b.model, vote.b.asset, vote.choice.value,
               vote.prompt, vote.seed)
        with self._lock:
            existing = self._db.execute("SELECT * FROM votes WHERE id = ?", (vote_id,)).fetchone()
            if existing is None:
                self._db.execute("INSERT INTO votes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (*row, self._clock()))
                existing = self._db.execute("SELECT * FROM votes WHERE id = ?", (vote_id,)).fetchone()
            elif tuple(existing[:9]) != row:
                raise AlreadyExists(f"vote {vote_id} was recorded with other content", field="vote_id")
            stored = _vote_from_row(existing)
        return stored, self.pair(stored.a.checkpoint, stored.b.checkpoint, stored.campaign)

    def _votes(self, campaign: str) -> list[Vote]:
        with self._lock:
            if campaign:
                rows = self._db.execute("SELECT * FROM votes WHERE campaign = ? ORDER BY create_time, id",
                                        (campaign,)).fetchall()
            else:
                rows = self._db.execute("SELECT * FROM votes ORDER BY create_time, id").fetchall()
        return [_vote_from_row(r) for r in rows]

    def pair(self, one: str, other: str, campaign: str = "") -> PairTally:
        first, second = sorted((one, other))
        for pair in tally(self._votes(campaign)).pairs:
            if (pair.first, pair.second) == (first, second):
                return pair
        return PairTally(first, second)

    def tally(self, campaign: str = "") -> Tally:
        if campaign and not CAMPAIGN.match(campaign):
            raise InvalidArgument(f"must be campaigns/{{campaign}}, got {campaign!r}", field="campaign")
        return tally(self._votes(campaign))


def _vote_from_row(row) -> Vote:
    return Vote(vote_id=row[0], campaign=row[1], a=Side(row[2], row[3]), b=Side(row[4], row[5]),
                choice=Choice(row[6]), prompt=row[7], seed=row[8], create_time=row[9])


def tally(votes: Iterable[Vote]) -> Tally:
    """Wins/losses/ties per checkpoint (most votes first, then by name) and per pair (by name)."""
    per: dict[str, list[int]] = {}
    pairs: dict[tuple[str, str], list[int]] = {}
    total = 0
    for vote in votes:
        total += 1
        a, b = vote.a.checkpoint, vote.b.checkpoint
        for checkpoint in (a, b):
            per.setdefault(checkpoint, [0, 0, 0])
        key = tuple(sorted((a, b)))
        counts = pairs.setdefault(key, [0, 0, 0])  # first wins, second wins, ties
        if vote.choice is Choice.TIE:
            per[a][2] += 1
            per[b][2] += 1
            counts[2] += 1
            continue
        winner, loser = (a, b) if vote.choice is Choice.A else (b, a)
        per[winner][0] += 1
        per[loser][1] += 1
        counts[0 if winner == key[0] else 1] += 1
    checkpoints = sorted((CheckpointTally(name, *c) for name, c in per.items()), key=lambda t: (-t.votes, t.checkpoint))
    return Tally(tuple(checkpoints), tuple(PairTally(k[0], k[1], *c) for k, c in sorted(pairs.items())), total)
