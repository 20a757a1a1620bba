"""Property: an answer built from the expected one by any single edit never passes, for BIN and SYLLO.

Edits: a digit (BIN) or syllable tile (SYLLO) changed, an extra or a missing item, two items reordered, noise
lines after the answer. Each property also checks the unedited answer passes, so a grader that fails
everything cannot satisfy it.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.curriculum.skills import bin as binskill
from services.curriculum.skills.base import generate_problems
from services.curriculum.skills.registry import default_registry

REGISTRY = default_registry()
BIN, SYLLO = REGISTRY.get("bin"), REGISTRY.get("syllo")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Noise: any non-blank text except backticks (a closing code fence is allowed after an answer, not noise).
noise_lines = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="`"), min_size=1)
    .filter(lambda t: t.strip()), min_size=1, max_size=3)


# ---------------------------------------------------------------------------------------------- BIN
def _digits(payload) -> str:
    kind = payload["result_kind"]
    if kind == "dec":
        return "0123456789"
    return payload["zero"] + payload["one"]


@st.composite
def bin_problems(draw):
    level = draw(st.integers(1, binskill.MAX_LEVEL))
    mode = draw(st.sampled_from(binskill.MODES))
    seed = draw(st.integers(0, 10_000))
    (problem,) = generate_problems(BIN, level, 1, seed, mode)
    return problem


@st.composite
def bin_edits(draw, problem):
    """(edit name, response) with exactly one edit applied to the final answer line."""
    payload = problem.payload
    work, lhs, result = problem.solution.splitlines()[:-1], payload["lhs"], payload["result"]
    name, args_text = lhs[: lhs.index("(")], lhs[lhs.index("(") + 1 : -1]
    args = args_text.split(", ")
    edits = ["extra_digit", "missing_digit", "extra_operand", "missing_operand", "sides_swapped", "noise"]
    if payload["result_kind"] == "bool" or any(ch in _digits(payload) for ch in result):
        edits.append("digit_changed")
    if len(set(result)) > 1:
        edits.append("digits_reordered")
    if len(set(args)) > 1:
        edits.append("operands_reordered")
    edit = draw(st.sampled_from(edits))
    digits = _digits(payload)
    if edit == "digit_changed":
        if payload["result_kind"] == "bool":
            result = {"true": "false", "false": "true"}[result]
        else:
            i = draw(st.sampled_from([i for i, ch in enumerate(result) if ch in digits]))
            result = result[:i] + draw(st.sampled_from([d for d in digits if d != result[i]])) + result[i + 1:]
    elif edit == "extra_digit":
        i = draw(st.integers(0, len(result)))
        result = result[:i] + draw(st.sampled_from(digits)) + result[i:]
    elif edit == "missing_digit":
        i = draw(st.integers(0, len(result) - 1))
        result = result[:i] + result[i + 1:]
    elif edit == "digits_reordered":
        i, j = draw(st.sampled_from([(i, j) for i in range(len(result)) for j in range(i + 1, len(result))
                                     if result[i] != result[j]]))
        chars = list(result)
        chars[i], chars[j] = chars[j], chars[i]
        result = "".join(chars)
    elif edit in ("extra_operand", "missing_operand", "operands_reordered"):
        if edit == "extra_operand":
            args = [*args, draw(st.sampled_from(args))]
        elif edit == "missing_operand":
            i = draw(st.integers(0, len(args) - 1))
            args = args[:i] + args[i + 1:]
        else:
            i, j = draw(st.sampled_from([(i, j) for i in range(len(args)) for j in range(i + 1, len(args))
                                         if args[i] != args[j]]))
            args[i], args[j] = args[j], args[i]
        lhs = f"{name}({', '.join(args)})"
    answer = f"{result} = {lhs}" if edit == "sides_swapped" else f"{lhs} = {result}"
    lines = [*work, answer]
    if edit == "noise":
        lines += draw(noise_lines)
    return edit, "\n".join(lines)


@SETTINGS
@given(data=st.data())
def test_bin_a_single_edit_of_the_expected_answer_never_passes(data):
    problem = data.draw(bin_problems())
    assert BIN.grade(problem, problem.solution).correct
    edit, response = data.draw(bin_edits(problem))
    outcome = BIN.grade(problem, response)
    assert not outcome.correct, (edit, response, outcome)


# ---------------------------------------------------------------------------------------------- SYLLO
def _render(fmt: str, words: list[str]) -> str:
    if fmt == "json_solutions":
        return json.dumps({"solutions": {str(i + 1): w for i, w in enumerate(words)}})
    if fmt == "json_list":
        return json.dumps({"solutions": words})
    if fmt == "json_flat":
        return "Here you go: " + json.dumps({str(i + 1): w.lower() for i, w in enumerate(words)})
    if fmt == "comma":
        return ", ".join(words)
    if fmt == "newline":
        return "\n".join(words)
    if fmt == "numbered":
        return "\n".join(f"{i + 1}. {w.title()}" for i, w in enumerate(words))
    return "\n".join(f"{i + 1}) {w} = {w}" for i, w in enumerate(words))  # worked


SYLLO_FORMATS = ("json_solutions", "json_list", "json_flat", "comma", "newline", "numbered", "worked")


@st.composite
def syllo_problems(draw):
    level = draw(st.integers(1, len(SYLLO.levels())))
    seed = draw(st.integers(0, 300))
    (problem,) = generate_problems(SYLLO, level, 1, seed)
    return problem


@st.composite
def syllo_edits(draw, problem):
    payload = problem.payload
    words, tiles = list(payload["words"]), [list(t) for t in payload["syllables"]]
    edits = ["tile_changed", "extra_word", "missing_word", "noise"]
    if len(set(words)) > 1:
        edits.append("words_reordered")
    edit = draw(st.sampled_from(edits))
    if edit == "tile_changed":
        i = draw(st.integers(0, len(words) - 1))
        j = draw(st.integers(0, len(tiles[i]) - 1))
        tiles[i][j] = draw(st.sampled_from(sorted({t for t in payload["bank"] if t != tiles[i][j]})))
        words[i] = "".join(tiles[i])
    elif edit == "extra_word":
        extra = draw(st.sampled_from(words) | st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2))
        words.insert(draw(st.integers(0, len(words))), extra)
    elif edit == "missing_word":
        del words[draw(st.integers(0, len(words) - 1))]
    elif edit == "words_reordered":
        i, j = draw(st.sampled_from([(i, j) for i in range(len(words)) for j in range(i + 1, len(words))
                                     if words[i] != words[j]]))
        words[i], words[j] = words[j], words[i]
    fmt = draw(st.sampled_from(SYLLO_FORMATS))
    response = _render(fmt, words)
    if edit == "noise":
        response = "\n".join([response, *draw(noise_lines)])
    return edit, fmt, response


@SETTINGS
@given(data=st.data())
def test_syllo_a_single_edit_of_the_expected_answer_never_passes(data):
    problem = data.draw(syllo_problems())
    words = list(problem.payload["words"])
    assert SYLLO.grade(problem, problem.solution).correct
    assert all(SYLLO.grade(problem, _render(fmt, words)).correct for fmt in SYLLO_FORMATS)
    edit, fmt, response = data.draw(syllo_edits(problem))
    outcome = SYLLO.grade(problem, response)
    assert not outcome.correct, (edit, fmt, response, outcome)
