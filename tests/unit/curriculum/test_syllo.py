"""SYLLO: every puzzle is exactly solvable, the grader accepts every answer format and nothing else."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.curriculum.lexicon import load_lexicon
from services.curriculum.skills import syllo
from services.curriculum.skills.base import generate_problems

SKILL = syllo.SylloSkill()


def test_lexicon_is_shipped_and_sane():
    lexicon = load_lexicon()
    assert len(lexicon) > 20000
    words = {e.word: e for e in lexicon}
    assert words["computer"].syllables == ("com", "put", "er")
    for entry in lexicon[::97]:
        assert "".join(entry.syllables) == entry.word and len(entry.syllables) >= 2
        assert entry.zipf >= 2.0 and entry.definitions and entry.pos in "nvar"
        assert all(entry.word not in r for r in entry.synonyms + entry.hypernyms + entry.antonyms)


def test_at_least_ten_well_separated_levels():
    levels = syllo.LEVELS
    assert len(levels) >= 10
    first, last = levels[0], levels[-1]
    assert (first.words, first.min_syllables, first.zipf_floor, first.red_herrings) == (4, 2, 5.5, 0)
    assert (last.words, last.max_syllables, last.zipf_floor, last.red_herrings) == (10, 6, 2.0, 6)
    for easier, harder in zip(levels, levels[1:], strict=False):
        assert (harder.words, harder.max_syllables, harder.red_herrings, -harder.zipf_floor) >= \
               (easier.words, easier.max_syllables, easier.red_herrings, -easier.zipf_floor)
        assert syllo.CLUE_TYPES.index(harder.clue_types[0]) >= syllo.CLUE_TYPES.index(easier.clue_types[0])
        assert harder != easier


@settings(max_examples=60, deadline=None)
@given(level=st.integers(min_value=1, max_value=len(syllo.LEVELS)), seed=st.integers(0, 2**32))
def test_every_puzzle_is_exactly_solvable_with_the_bank(level, seed):
    spec = syllo.LEVELS[level - 1]
    (problem,) = generate_problems(SKILL, level, 1, seed)
    p = problem.payload
    question = problem.prompt[0].content
    assert len(p["words"]) == spec.words and len(p["red_herrings"]) == spec.red_herrings
    needed = Counter(t for tiles in p["syllables"] for t in tiles)
    assert Counter(p["bank"]) - Counter(p["red_herrings"]) == needed
    assert Counter(p["bank"]) == needed + Counter(p["red_herrings"])
    assert not set(p["red_herrings"]) & set(needed)
    assert "Tiles: " + " ".join(p["bank"]) in question
    for n, (word, tiles) in enumerate(zip(p["words"], p["syllables"], strict=True), start=1):
        assert "".join(tiles) == word
        assert spec.min_syllables <= len(tiles) <= spec.max_syllables
        clue = next(line for line in question.splitlines() if line.startswith(f"{n}. "))
        assert clue.count("___") == len(tiles)
        assert word.lower() not in clue.lower(), "a clue gives its own answer away"
    assert SKILL.grade(problem, problem.solution).correct


def _answer_formats(words: list[str]) -> dict[str, str]:
    return {
        "json_solutions": json.dumps({"solutions": {str(i + 1): w for i, w in enumerate(words)}}),
        "json_solutions_list": json.dumps({"solutions": words}),
        "json_flat": "Here you go: " + json.dumps({str(i + 1): w.lower() for i, w in enumerate(words)}),
        "comma": ", ".join(words),
        "newline": "\n".join(words),
        "numbered": "\n".join(f"{i + 1}. {w.title()}" for i, w in enumerate(words)),
        "worked": "\n".join(f"{i + 1}) {'+'.join(w[j:j + 2] for j in range(0, len(w), 2))} = {w}"
                            for i, w in enumerate(words)),
    }


@pytest.mark.parametrize("level", [1, 6, 12])
def test_grader_accepts_every_format_of_the_right_solution(level):
    for problem in generate_problems(SKILL, level, 5, seed=level):
        for fmt, response in _answer_formats(problem.payload["words"]).items():
            outcome = SKILL.grade(problem, response)
            assert outcome.correct and outcome.partial_score == 1.0, (fmt, outcome)


def test_grader_rejects_wrong_words_with_partial_credit():
    (problem,) = generate_problems(SKILL, 3, 1, seed=11)
    words = list(problem.payload["words"])
    n = len(words)
    # Swap two answers: every word is buildable from the bank, but two clues are wrong.
    swapped = [words[1], words[0], *words[2:]]
    outcome = SKILL.grade(problem, json.dumps({"solutions": swapped}))
    assert not outcome.correct and outcome.partial_score == pytest.approx((n - 2) / n)
    assert "clues 1, 2" in outcome.reason
    missing = SKILL.grade(problem, json.dumps({"solutions": {"1": words[0]}}))
    assert not missing.correct and missing.partial_score == pytest.approx(1 / n)
    assert not SKILL.grade(problem, "I don't know").correct


def test_grader_rejects_tile_misuse():
    problem = next(p for p in generate_problems(SKILL, 8, 20, seed=2) if p.payload["red_herrings"])
    words = list(problem.payload["words"])
    herring = problem.payload["red_herrings"][0]
    # A right word twice uses its tiles twice; a made-up word from a herring plus an unlisted tile.
    doubled = [words[0], words[0], *words[2:]]
    outcome = SKILL.grade(problem, json.dumps({"solutions": doubled}))
    assert not outcome.correct and outcome.reason.startswith("tile misuse")
    outcome = SKILL.grade(problem, json.dumps({"solutions": [herring + "QZX", *words[1:]]}))
    assert not outcome.correct and outcome.reason.startswith("tile misuse")
    # Partial credit is still reported next to the failure.
    assert outcome.partial_score == pytest.approx((len(words) - 1) / len(words))


def test_definitions_mask_the_target_word():
    assert syllo._mask("a rolling stone rolls on", "rolling") == "a ~ stone ~ on"
