"""The skill plugin interface and the generation machinery shared by every skill.

A skill only knows how to draw ONE problem from a random generator (`sample`) and how to grade a response
(`grade`). Everything about batches, seeds, frozen eval sets and the held-out guarantee lives here, once,
so that every skill gets the same determinism and the same regime rules.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from services.kit.errors import FailedPrecondition, InvalidArgument

# Problems per level in every frozen eval set (5 would move accuracy in 20 % steps).
EVAL_SET_SIZE = 50
# A level is evaluated on held-out problems only when its space is at least this many times the eval set.
HELD_OUT_FACTOR = 20
# Review rows of lower levels in a batch: at most this share, spread over at most this many levels below.
MAX_REVIEW_SHARE = 0.5
REVIEW_LEVELS = 3
MAX_CONSECUTIVE_SKIPS = 10_000


class Regime(StrEnum):
    EXHAUSTIVE = "exhaustive"
    HELD_OUT = "held_out"


@dataclass(frozen=True)
class LevelSpec:
    number: int
    title: str
    description: str
    parameters: Mapping[str, str]
    pass_threshold: float
    # Number of distinct problems (by identity) at this level; 0 when effectively unbounded.
    problem_space_size: int

    @property
    def regime(self) -> Regime:
        small = 0 < self.problem_space_size < HELD_OUT_FACTOR * EVAL_SET_SIZE
        return Regime.EXHAUSTIVE if small else Regime.HELD_OUT


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Problem:
    """One problem: the prompt, the worked solution a training row teaches, and what the grader needs."""

    skill: str
    level: int
    mode: str
    # Canonical identity of the underlying problem, independent of mode and wording (held-out checks use it).
    identity: str
    prompt: tuple[Message, ...]
    # The full assistant turn of a training row (work lines, then the final answer).
    solution: str
    # The exact final answer the grader requires.
    expected: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""

    def with_id(self, problem_id: str) -> Problem:
        return Problem(self.skill, self.level, self.mode, self.identity, self.prompt, self.solution,
                       self.expected, self.payload, problem_id)

    def training_messages(self) -> list[dict[str, str]]:
        return [m.to_dict() for m in self.prompt] + [{"role": "assistant", "content": self.solution}]

    def canonical(self) -> dict[str, Any]:
        """The JSON form hashed into an eval set's content hash (key order fixed by sort_keys)."""
        return {"id": self.id, "skill": self.skill, "level": self.level, "mode": self.mode,
                "identity": self.identity, "prompt": [m.to_dict() for m in self.prompt],
                "expected": self.expected, "payload": dict(self.payload)}


@dataclass(frozen=True)
class GradeOutcome:
    correct: bool
    # 0..1, reported separately from pass/fail: a near miss is still a fail.
    partial_score: float
    parsed_answer: str
    reason: str


class Skill(Protocol):
    name: str
    display_name: str
    description: str
    version: str
    modes: Sequence[str]

    def levels(self) -> Sequence[LevelSpec]: ...

    def sample(self, rng: random.Random, level: int, mode: str | None) -> Problem:
        """Draw one problem; `mode` None means the level's own mix of modes."""
        ...

    def grade(self, problem: Problem, response: str) -> GradeOutcome: ...


def level_spec(skill: Skill, level: int) -> LevelSpec:
    for spec in skill.levels():
        if spec.number == level:
            return spec
    top = len(skill.levels())
    raise InvalidArgument(f"{skill.name} has levels 1..{top}, got {level}", field="level")


def check_mode(skill: Skill, mode: str | None) -> str | None:
    if mode in (None, ""):
        return None
    if mode not in skill.modes:
        raise InvalidArgument(f"unknown mode {mode!r} for {skill.name}; known: {', '.join(skill.modes)}",
                              field="mode")
    return mode


@dataclass(frozen=True)
class EvalSet:
    skill: str
    level: int
    regime: Regime
    version: str
    problems: tuple[Problem, ...]
    content_hash: str

    @property
    def name(self) -> str:
        return f"skills/{self.skill}/levels/{self.level}/evalSet"

    def identities(self) -> frozenset[str]:
        return frozenset(p.identity for p in self.problems)


def _content_hash(problems: Sequence[Problem]) -> str:
    canonical = json.dumps([p.canonical() for p in problems], ensure_ascii=False, sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# Training and eval draw from disjoint seed namespaces: "train/…" vs "eval/…" strings seed random.Random
# through SHA-512, so no integer seed a caller passes can reproduce an eval stream.
def _train_rng(skill: Skill, level: int, seed: int) -> random.Random:
    return random.Random(f"{skill.name}/train/{skill.version}/L{level}/{seed}")


def _eval_rng(skill: Skill, level: int) -> random.Random:
    return random.Random(f"{skill.name}/eval/{skill.version}/L{level}")


def _build_eval_set(skill: Skill, level: int, size: int) -> EvalSet:
    spec = level_spec(skill, level)
    rng = _eval_rng(skill, level)
    seen: set[str] = set()
    problems: list[Problem] = []
    attempts = 0
    while len(problems) < size:
        attempts += 1
        if attempts > size * 200:
            raise RuntimeError(f"{skill.name} L{level}: could not draw {size} distinct eval problems")
        problem = skill.sample(rng, level, None)
        if problem.identity in seen:
            continue
        seen.add(problem.identity)
        problems.append(problem.with_id(f"{skill.name}-L{level}-e{len(problems):03d}"))
    return EvalSet(skill.name, level, spec.regime, f"{skill.name}-{skill.version}-eval{size}",
                   tuple(problems), _content_hash(problems))


_EVAL_CACHE: dict[tuple[str, str, int], EvalSet] = {}


def eval_set(skill: Skill, level: int) -> EvalSet:
    """The frozen eval set of a level: derived only from the skill version, cached per process."""
    key = (skill.name, skill.version, level)
    if key not in _EVAL_CACHE:
        _EVAL_CACHE[key] = _build_eval_set(skill, level, EVAL_SET_SIZE)
    return _EVAL_CACHE[key]


def review_counts(level: int, count: int, review_share: float) -> dict[int, int]:
    """Rows per level of a batch at `level` whose `review_share` goes to the levels below it.

    The review rows are split evenly over the REVIEW_LEVELS levels just below (fewer near level 1), the
    remainder to the nearest; the training level keeps the rest. Level 1 has nothing to review.
    """
    if not 0.0 <= review_share <= MAX_REVIEW_SHARE:
        raise InvalidArgument(f"must be within 0..{MAX_REVIEW_SHARE}, got {review_share}", field="review_share")
    below = list(range(level - 1, max(0, level - 1 - REVIEW_LEVELS), -1))
    review = round(count * review_share) if below else 0
    counts = {lower: review // len(below) for lower in below}
    for lower in below[: review - sum(counts.values())]:
        counts[lower] += 1
    return {level: count - review, **{lower: n for lower, n in counts.items() if n}}


def iter_problems(skill: Skill, level: int, count: int, seed: int, mode: str | None = None,
                  review_share: float = 0.0) -> Iterator[Problem]:
    """Deterministic training problems, one at a time. On held-out levels, eval problems are skipped.

    With a review share, rows of the levels below are interleaved at random positions, each drawn as that
    level would draw it: training a new level on its rows alone overwrote what the levels below taught (the
    tiny hero's BIN L1 trials fell from 0.96 to 0.87 within minutes of training L2 and L3).
    """
    if count < 0:
        raise InvalidArgument("must be >= 0", field="count")
    if count > 1_000_000:
        raise InvalidArgument("must be <= 1000000", field="count")
    level_spec(skill, level)
    mode = check_mode(skill, mode)
    counts = review_counts(level, count, review_share)
    excluded = _excluded(skill, level)
    if len(counts) == 1:
        return _problems(skill, level, count, seed, mode, excluded)
    # A lower level's problem can be one of this level's held-out eval problems too (BIN: small operands):
    # skipped as well, so no batch for a held-out level ever holds its eval problems.
    sources = {lvl: _problems(skill, lvl, n, seed, mode, excluded | _excluded(skill, lvl))
               for lvl, n in counts.items()}
    return _interleaved(sources, counts, random.Random(f"{skill.name}/review/{skill.version}/L{level}/{seed}"))


def _excluded(skill: Skill, level: int) -> frozenset[str]:
    held_out = level_spec(skill, level).regime is Regime.HELD_OUT
    return eval_set(skill, level).identities() if held_out else frozenset()


def _interleaved(sources: Mapping[int, Iterator[Problem]], counts: Mapping[int, int],
                 rng: random.Random) -> Iterator[Problem]:
    """Each next row comes from a level with probability its remaining rows / all remaining: a uniformly
    random interleaving, drawn lazily so StreamBatch still holds one chunk at a time."""
    remaining = dict(counts)
    while total := sum(remaining.values()):
        pick = rng.randrange(total)
        for lvl in sorted(remaining):
            if pick < remaining[lvl]:
                remaining[lvl] -= 1
                yield next(sources[lvl])
                break
            pick -= remaining[lvl]


def _problems(skill: Skill, level: int, count: int, seed: int, mode: str | None,
              excluded: frozenset[str]) -> Iterator[Problem]:
    rng = _train_rng(skill, level, seed)
    emitted = skipped = 0
    while emitted < count:
        problem = skill.sample(rng, level, mode)
        if problem.identity in excluded:
            skipped += 1
            # A level whose every problem is excluded (a review level inside a higher level's held-out set)
            # would otherwise loop for ever.
            if skipped > MAX_CONSECUTIVE_SKIPS:
                raise FailedPrecondition(f"{skill.name} L{level}: every drawn problem is a held-out eval problem",
                                         field="review_share")
            continue
        skipped = 0
        yield problem.with_id(f"{skill.name}-L{level}-s{seed}-{emitted}")
        emitted += 1


def generate_problems(skill: Skill, level: int, count: int, seed: int, mode: str | None = None,
                      review_share: float = 0.0) -> list[Problem]:
    return list(iter_problems(skill, level, count, seed, mode, review_share))


def training_row(problem: Problem, seed: int) -> dict[str, Any]:
    return {"messages": problem.training_messages(),
            "metadata": {"skill": problem.skill, "level": problem.level, "mode": problem.mode,
                         "seed": seed, "id": problem.id}}


def rows_to_jsonl(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Byte-stable JSONL: fixed key order, no ASCII escaping, one row per line."""
    return b"".join(json.dumps(r, ensure_ascii=False, separators=(", ", ": ")).encode("utf-8") + b"\n"
                    for r in rows)


def sidecar(skill: Skill, level: int, seed: int, count: int, mode: str | None,
            review_share: float = 0.0) -> dict[str, Any]:
    meta = {"schema_id": "chat_sft_v1", "generator": f"curriculum/{skill.name}",
            "generator_version": skill.version, "skill": skill.name, "level": level, "seed": seed,
            "count": count, "mode": mode or "mix"}
    counts = review_counts(level, count, review_share)
    if len(counts) > 1:  # absent without review, so batches made before it keep their bytes
        meta["review_share"] = review_share
        meta["rows_per_level"] = {str(lvl): n for lvl, n in sorted(counts.items())}
    return meta


def sparring_row(problem: Problem, wrong_response: str) -> dict[str, Any]:
    """A correction row: the problem with a wrong answer, then "It is incorrect." and the right answer."""
    user = problem.prompt[-1].content
    messages = [m.to_dict() for m in problem.prompt[:-1]]
    messages.append({"role": "user", "content": f"{user}\n\nProposed answer:\n{wrong_response.strip()}\n\n"
                                                "Is the proposed answer correct?"})
    messages.append({"role": "assistant", "content": f"It is incorrect.\n{problem.solution}"})
    return {"messages": messages,
            "metadata": {"skill": problem.skill, "level": problem.level, "mode": problem.mode,
                         "kind": "sparring", "id": problem.id}}
