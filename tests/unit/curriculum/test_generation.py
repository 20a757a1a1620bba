"""Determinism, frozen eval sets, regimes and sparring rows, for every skill."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.curriculum import evalsets
from services.curriculum.skills.base import (
    EVAL_SET_SIZE,
    Regime,
    eval_set,
    generate_problems,
    rows_to_jsonl,
    sparring_row,
    training_row,
)
from services.curriculum.skills.registry import default_registry
from services.kit.errors import InvalidArgument

REGISTRY = default_registry()
ROOT = Path(__file__).resolve().parents[3]


def _batch(skill: str, level: int, seed: int, count: int = 40) -> bytes:
    plugin = REGISTRY.get(skill)
    return rows_to_jsonl([training_row(p, seed) for p in generate_problems(plugin, level, count, seed)])


@pytest.mark.parametrize("skill,level", [("bin", 1), ("bin", 12), ("bin", 30), ("syllo", 1), ("syllo", 12)])
def test_same_seed_gives_byte_identical_batch(skill, level):
    first = _batch(skill, level, 77)
    assert first == _batch(skill, level, 77)
    assert first != _batch(skill, level, 78)
    for line in first.splitlines():
        row = json.loads(line)
        assert row["messages"][-1]["role"] == "assistant" and row["metadata"]["seed"] == 77


def test_batches_and_eval_sets_are_stable_across_processes():
    """A fresh interpreter with another hash seed produces the same bytes and the locked eval hashes."""
    script = (
        "import hashlib;from services.curriculum.skills.base import *;"
        "from services.curriculum.skills.registry import default_registry;r=default_registry();"
        "b=b''.join(rows_to_jsonl([training_row(p,5) for p in generate_problems(r.get(s),l,30,5)])"
        " for s,l in (('bin',9),('syllo',7)));"
        "print(hashlib.sha256(b).hexdigest(), eval_set(r.get('syllo'),3).content_hash)"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
        outputs.add(out)
    here = hashlib.sha256(_batch("bin", 9, 5, 30) + _batch("syllo", 7, 5, 30)).hexdigest()
    assert outputs == {f"{here} {eval_set(REGISTRY.get('syllo'), 3).content_hash}"}


def test_eval_sets_match_the_lock():
    assert evalsets.mismatches(REGISTRY) == []


def test_lock_check_fails_when_an_eval_set_moves(tmp_path):
    lock = tmp_path / "lock.json"
    evalsets.write_lock(REGISTRY, lock)
    data = json.loads(lock.read_text())
    data["bin@1"]["5"] = "0" * 64
    lock.write_text(json.dumps(data))
    assert evalsets.mismatches(REGISTRY, lock) == [f"bin@1 L5: {eval_set(REGISTRY.get('bin'), 5).content_hash[:12]}"
                                                   " != locked 000000000000"]


@pytest.mark.parametrize("skill", ["bin", "syllo"])
def test_every_level_has_a_full_distinct_eval_set(skill):
    plugin = REGISTRY.get(skill)
    for spec in plugin.levels():
        es = eval_set(plugin, spec.number)
        assert len(es.problems) >= EVAL_SET_SIZE >= 50
        assert len(es.identities()) == len(es.problems)
        assert es.regime is spec.regime
        assert len(es.content_hash) == 64 and es.version.startswith(f"{skill}-")
        for problem in es.problems:
            assert plugin.grade(problem, problem.solution).correct


@pytest.mark.parametrize("level", [1, 4, 9, 12])
def test_syllo_training_never_emits_an_eval_problem(level):
    plugin = REGISTRY.get("syllo")
    assert plugin.levels()[level - 1].regime is Regime.HELD_OUT
    held_out = eval_set(plugin, level).identities()
    emitted = {p.identity for seed in range(3) for p in generate_problems(plugin, level, 300, seed)}
    assert not emitted & held_out


def test_exhaustive_regime_may_share_problems_with_training():
    plugin = REGISTRY.get("bin")
    assert plugin.levels()[0].regime is Regime.EXHAUSTIVE
    emitted = {p.identity for p in generate_problems(plugin, 1, 2000, seed=0)}
    assert eval_set(plugin, 1).identities() <= emitted


def test_bad_requests_name_the_field():
    plugin = REGISTRY.get("bin")
    with pytest.raises(InvalidArgument, match="level"):
        generate_problems(plugin, 31, 1, 0)
    with pytest.raises(InvalidArgument, match="mode"):
        generate_problems(plugin, 1, 1, 0, "fancy")
    with pytest.raises(InvalidArgument, match="count"):
        generate_problems(plugin, 1, -1, 0)


def test_sparring_row_corrects_a_wrong_answer():
    plugin = REGISTRY.get("bin")
    (problem,) = generate_problems(plugin, 2, 1, seed=4)
    wrong = f"{problem.payload['lhs']} = ①①①①①"
    assert not plugin.grade(problem, wrong).correct
    row = sparring_row(problem, wrong)
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    assert wrong in row["messages"][0]["content"] and problem.prompt[0].content in row["messages"][0]["content"]
    answer = row["messages"][-1]["content"]
    assert answer.startswith("It is incorrect.\n") and plugin.grade(problem, answer).correct


def test_review_share_interleaves_the_levels_below_and_keeps_the_level_rows():
    plugin = REGISTRY.get("bin")
    plain = generate_problems(plugin, 5, 400, 11)
    mixed = generate_problems(plugin, 5, 400, 11, review_share=0.25)
    assert len(mixed) == 400
    levels = [p.level for p in mixed]
    assert {level: levels.count(level) for level in set(levels)} == {5: 300, 4: 34, 3: 33, 2: 33}
    # The level's own rows are the first 300 a plain batch of the same seed would hold, in the same order.
    assert [p.identity for p in mixed if p.level == 5] == [p.identity for p in plain[:300]]
    # Interleaved, not appended: review rows appear in the first tenth of the batch already.
    assert any(p.level < 5 for p in mixed[:40])
    assert generate_problems(plugin, 5, 400, 11, review_share=0.25) == mixed


def test_review_rows_never_hold_the_training_levels_held_out_problems():
    plugin = REGISTRY.get("bin")
    held_out = eval_set(plugin, 3).identities()
    assert eval_set(plugin, 3).regime is Regime.HELD_OUT
    mixed = generate_problems(plugin, 3, 3000, 5, review_share=0.5)
    assert {p.level for p in mixed} == {1, 2, 3}
    assert not {p.identity for p in mixed} & held_out
    # Without that rule they would: L2 draws them (the L3 set has small-operand problems).
    assert {p.identity for p in generate_problems(plugin, 2, 1500, 5)} & held_out


def test_review_share_is_validated_and_level_one_has_nothing_to_review():
    plugin = REGISTRY.get("bin")
    assert generate_problems(plugin, 1, 50, 3, review_share=0.5) == generate_problems(plugin, 1, 50, 3)
    for bad in (-0.1, 0.6):
        with pytest.raises(InvalidArgument) as err:
            generate_problems(plugin, 4, 10, 3, review_share=bad)
        assert err.value.field == "review_share"


def test_review_batch_sidecar_counts_rows_per_level():
    from services.curriculum.skills.base import sidecar

    plugin = REGISTRY.get("bin")
    assert "review_share" not in sidecar(plugin, 3, 1, 100, None)
    meta = sidecar(plugin, 3, 1, 100, None, 0.2)
    assert meta["review_share"] == 0.2 and meta["rows_per_level"] == {"1": 10, "2": 10, "3": 80}


def test_a_review_level_inside_the_held_out_set_is_refused_not_looped_on():
    from services.curriculum.skills.base import LevelSpec, Message, Problem
    from services.kit.errors import FailedPrecondition

    class TwoLevels:
        """Level 1 has two problems; level 2's (held-out) eval set is sure to hold both."""
        name, display_name, description, version, modes = "toy", "Toy", "", "1", ("plain",)

        def levels(self):
            return [LevelSpec(1, "one", "", {}, 0.9, 2), LevelSpec(2, "two", "", {}, 0.9, 5000)]

        def sample(self, rng, level, mode):
            identity = f"a{rng.randrange(2)}" if level == 1 or rng.random() < 0.5 else f"b{rng.randrange(5000)}"
            return Problem("toy", level, "plain", identity, (Message("user", identity),), identity, identity)

        def grade(self, problem, response):
            raise NotImplementedError

    toy = TwoLevels()
    assert {"a0", "a1"} <= eval_set(toy, 2).identities()
    with pytest.raises(FailedPrecondition) as err:
        generate_problems(toy, 2, 20, 1, review_share=0.5)
    assert "held-out" in str(err.value)
    assert len(generate_problems(toy, 2, 20, 1)) == 20
