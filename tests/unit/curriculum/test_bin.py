"""BIN: answers are arithmetically right at every level, keys are bijective, the grader is strict."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.curriculum.skills import bin as binskill
from services.curriculum.skills.base import Regime, eval_set, generate_problems

SKILL = binskill.BinSkill()
LEVELS = st.integers(min_value=1, max_value=binskill.MAX_LEVEL)
SEEDS = st.integers(min_value=0, max_value=2**40)
MODES = st.sampled_from([None, *binskill.MODES])

# An independent reference: Python arithmetic on decoded operands, not the skill's own Op table.
REFERENCE = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "inc": lambda a: a + 1, "dec": lambda a: a - 1, "neg": lambda a: -a, "abs": abs,
    "eq": lambda a, b: "true" if a == b else "false", "lt": lambda a, b: "true" if a < b else "false",
    "gt": lambda a, b: "true" if a > b else "false", "min": min, "max": max, "mul2": lambda a: 2 * a,
    "div2": lambda a: int(a / 2), "to_bin": lambda a: a, "to_dec": lambda a: str(a),
}


def _decode(text: str, zero: str, one: str) -> int:
    negative = text.startswith("-")
    digits = text.lstrip("-")
    assert digits and set(digits) <= {zero, one}, text
    value = int("".join("1" if ch == one else "0" for ch in digits), 2)
    assert digits == zero or digits[0] == one, f"leading zero in {text!r}"
    return -value if negative else value


def _encode(value: int, zero: str, one: str) -> str:
    return ("-" if value < 0 else "") + format(abs(value), "b").translate(str.maketrans("01", zero + one))


def reference_answer(question: str) -> tuple[str, str]:
    """Re-derive (lhs, result) from the prompt text alone."""
    lines = question.splitlines()
    zero, one, aliases = binskill.ZERO, binskill.ONE, {}
    if lines[0].startswith("key: "):
        for pair in lines[0][5:].split():
            symbol, meaning = pair.split("=")
            if meaning == binskill.ZERO:
                zero = symbol
            elif meaning == binskill.ONE:
                one = symbol
            else:
                aliases[symbol] = meaning
        lines = lines[1:]
    lhs = re.sub(r"^\[[a-z-]+\] ", "", lines[-1])
    m = re.fullmatch(r"([a-z_0-9]+)\((.*)\)", lhs)
    name = aliases.get(m.group(1), m.group(1))
    raw_args = m.group(2).split(", ")
    if name == "to_bin":
        args = [int(raw_args[0])]
    else:
        args = [_decode(a, zero, one) for a in raw_args]
    result = REFERENCE[name](*args)
    if isinstance(result, int):
        result = _encode(result, zero, one)
    return lhs, result


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(level=LEVELS, seed=SEEDS, mode=MODES)
def test_expected_answer_is_arithmetically_right(level, seed, mode):
    for problem in generate_problems(SKILL, level, 3, seed, mode):
        lhs, result = reference_answer(problem.prompt[-1].content)
        assert problem.solution.splitlines()[-1] == f"{lhs} = {result}"
        assert problem.expected == f"{lhs} = {result}"


@settings(max_examples=200, deadline=None)
@given(level=LEVELS, seed=SEEDS)
def test_operand_widths_and_signs_follow_the_level(level, seed):
    bits = binskill.bits_for_level(level)
    for problem in generate_problems(SKILL, level, 4, seed):
        for value in problem.payload["args"]:
            assert abs(value) < 2**bits
            assert value >= 0 or binskill.is_signed(level)


@settings(max_examples=300, deadline=None)
@given(level=st.integers(min_value=binskill.SYMBOLS_FROM_LEVEL, max_value=binskill.MAX_LEVEL), seed=SEEDS)
def test_symbol_keys_are_bijective(level, seed):
    rng = random.Random(seed)
    op = rng.choice(binskill.ops_for_level(level))
    key = binskill.draw_key(rng, level, op)
    pairs = [(key.zero, binskill.ZERO), (key.one, binskill.ONE), *key.aliases]
    symbols = [s for s, _ in pairs]
    meanings = [m for _, m in pairs]
    assert len(set(symbols)) == len(symbols), "a symbol names two meanings"
    assert len(set(meanings)) == len(meanings), "a meaning has two symbols"
    assert op.name in meanings
    # No symbol can be read as something else: not a real op name, a digit, a syntax character or ⓪①.
    reserved = set(binskill.OPS_BY_NAME) | {"true", "false", binskill.ZERO, binskill.ONE}
    assert not set(symbols) & reserved
    assert not any(ch in "0123456789()=,- " for s in symbols for ch in s)
    assert key.mapping() == dict(pairs)


def test_symbol_language_is_most_prompts_from_level_8():
    problems = generate_problems(SKILL, binskill.SYMBOLS_FROM_LEVEL, 400, seed=1)
    keyed = sum(p.prompt[0].content.startswith("key: ") for p in problems)
    assert 0.6 < keyed / len(problems) < 0.9
    assert not any(p.prompt[0].content.startswith("key: ")
                   for p in generate_problems(SKILL, binskill.SYMBOLS_FROM_LEVEL - 1, 200, seed=1))


def _flip_each_bit(result: str, zero: str, one: str):
    for i, ch in enumerate(result):
        if ch in (zero, one):
            yield result[:i] + (one if ch == zero else zero) + result[i + 1:]


@settings(max_examples=200, deadline=None)
@given(level=LEVELS, seed=SEEDS, mode=MODES)
def test_grader_passes_expected_and_fails_every_single_bit_error(level, seed, mode):
    (problem,) = generate_problems(SKILL, level, 1, seed, mode)
    assert SKILL.grade(problem, problem.solution).correct
    assert SKILL.grade(problem, problem.expected).correct
    payload = problem.payload
    lhs, result = payload["lhs"], payload["result"]
    if payload["result_kind"] == "bin":
        wrongs = list(_flip_each_bit(result, payload["zero"], payload["one"]))
        assert wrongs
    elif payload["result_kind"] == "bool":
        wrongs = ["false" if result == "true" else "true"]
    else:
        wrongs = [str(int(result) ^ (1 << k)) for k in range(4)]
    for wrong in wrongs:
        outcome = SKILL.grade(problem, f"{lhs} = {wrong}")
        assert not outcome.correct, wrong
        assert outcome.parsed_answer == wrong


@settings(max_examples=100, deadline=None)
@given(level=LEVELS, seed=SEEDS)
def test_result_mentioned_elsewhere_is_not_a_pass(level, seed):
    (problem,) = generate_problems(SKILL, level, 1, seed)
    lhs, result = problem.payload["lhs"], problem.payload["result"]
    for response in (
        f"The answer might be {result}.",
        f"{problem.expected}\nActually I am not sure.",
        f"{problem.expected}\n{lhs} = ?",
        f"{result}",
        f"work: {result}\n{lhs} = {result}{result}",
        f"{lhs.replace('(', '[')} = {result}",
    ):
        assert not SKILL.grade(problem, response).correct, response


def test_grader_tolerates_only_whitespace_in_the_answer_line():
    (problem,) = generate_problems(SKILL, 1, 1, seed=3)
    lhs, result = problem.payload["lhs"], problem.payload["result"]
    assert SKILL.grade(problem, f"  {lhs.replace(', ', ',')}   =  {result}  \n\n").correct
    assert not SKILL.grade(problem, "").correct


def test_partial_credit_is_separate_from_pass():
    problem = next(p for p in generate_problems(SKILL, 6, 200, seed=5) if p.payload["op"] == "mul"
                   and len(p.payload["result"].lstrip("-")) >= 4)
    payload = problem.payload
    wrong = next(_flip_each_bit(payload["result"], payload["zero"], payload["one"]))
    outcome = SKILL.grade(problem, f"{payload['lhs']} = {wrong}")
    assert not outcome.correct and 0.5 < outcome.partial_score < 1.0


def test_low_levels_are_one_line_each_way():
    for problem in generate_problems(SKILL, 1, 200, seed=0):
        assert "\n" not in problem.prompt[0].content and "\n" not in problem.solution
        assert len(problem.prompt[0].content) <= 20
        assert problem.solution == f"{problem.prompt[0].content} = {problem.payload['result']}"


def test_problem_space_size_matches_enumeration():
    for level in (1, 2):
        seen = {p.identity for p in generate_problems(SKILL, level, 30000, seed=9)}
        assert len(seen) == binskill.problem_space_size(level)
    assert binskill.problem_space_size(1) == 145


def test_regimes_follow_the_space_size():
    levels = SKILL.levels()
    assert levels[0].regime is Regime.EXHAUSTIVE and levels[1].regime is Regime.EXHAUSTIVE
    assert all(spec.regime is Regime.HELD_OUT for spec in levels[2:])
    assert [s.parameters["bits"] for s in (levels[0], levels[28], levels[29])] == ["2", "30", "32"]


@pytest.mark.parametrize("level", [3, 4, 8])
def test_training_never_emits_a_held_out_eval_problem(level):
    held_out = eval_set(SKILL, level).identities()
    emitted = {p.identity for seed in range(6) for p in generate_problems(SKILL, level, 2000, seed)}
    assert not emitted & held_out
    if level == 3:
        # The guard is what keeps them apart: the raw sampler, unfiltered, does hit eval problems here.
        rng = random.Random("unfiltered")
        raw = {SKILL.sample(rng, level, None).identity for _ in range(12000)}
        assert raw & held_out
