"""BIN: binary arithmetic written with circled digits ⓪①.

Level N works on (N+1)-bit operands (L30: 32-bit). Low levels are one short line each way, so a ~1M-parameter
model can learn L1 in minutes; work-showing modes and the symbol language come in at higher levels.

Answer line (always the LAST line of the assistant turn): `op(args) = result`, e.g. `add(①⓪①, ①①) = ①⓪⓪⓪`.
Numbers are minimal binary (no leading zeros, zero is ⓪), negative numbers carry a leading "-".
Comparisons answer `true`/`false`; to_dec answers decimal digits; to_bin takes a decimal argument.
div2 rounds toward zero (div2(-①①) = -①).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from services.curriculum.skills.base import GradeOutcome, LevelSpec, Message, Problem

ZERO, ONE = "⓪", "①"
MAX_LEVEL = 30
# Operands may be negative from this level on (sign-magnitude: a "-" before the digits).
SIGNED_FROM_LEVEL = 6
# The symbol language (random digit symbols and operation aliases) starts here.
SYMBOLS_FROM_LEVEL = 8
SYMBOL_SHARE = 0.75
MODES = ("plain", "verify", "show-work", "trace")

# Digit symbols for the symbol language: none is a syntax character, a decimal digit, a letter, or ⓪/①.
DIGIT_SYMBOLS = tuple("▲△●○■□◆◇★☆♠♣♥♦☀☾✦✧⬟⬠◐◑▣▤⊙⊚")
# Operation aliases: invented words, disjoint from the real operation names and from true/false.
ALIAS_WORDS = ("vex", "mup", "lorp", "zint", "quab", "fesk", "dram", "plov", "snid", "tharn", "wub", "kelm",
               "grop", "yirn", "blat", "crun", "jask", "nurf", "pelt", "rusk", "skov", "trib", "vorn", "zeb")
KEY_DISTRACTORS = 2


@dataclass(frozen=True)
class Op:
    name: str
    arity: int
    signed_only: bool
    # Operand kinds: "bin" (circled binary) or "dec" (decimal digits).
    arg_kind: str
    result_kind: str  # "bin", "bool" or "dec"
    compute: Callable[..., int | bool]
    # How the decimal check line writes it, e.g. "{a} + {b}".
    check: str


def _powers(x: int) -> str:
    """A number as its sum of powers of two: 13 -> "8 + 4 + 1", -6 -> "-(4 + 2)"."""
    terms = [str(1 << i) for i in range(abs(x).bit_length() - 1, -1, -1) if abs(x) >> i & 1] or ["0"]
    total = " + ".join(terms)
    return f"-({total})" if x < 0 else total


def _div2(x: int) -> int:
    return -(abs(x) // 2) if x < 0 else x // 2


OPS: tuple[Op, ...] = (
    Op("add", 2, False, "bin", "bin", lambda a, b: a + b, "{a} + {b}"),
    Op("sub", 2, False, "bin", "bin", lambda a, b: a - b, "{a} - {b}"),
    Op("mul", 2, False, "bin", "bin", lambda a, b: a * b, "{a} * {b}"),
    Op("inc", 1, False, "bin", "bin", lambda a: a + 1, "{a} + 1"),
    Op("dec", 1, False, "bin", "bin", lambda a: a - 1, "{a} - 1"),
    Op("neg", 1, True, "bin", "bin", lambda a: -a, "-({a})"),
    Op("abs", 1, True, "bin", "bin", lambda a: abs(a), "|{a}|"),
    Op("eq", 2, False, "bin", "bool", lambda a, b: a == b, "{a} == {b}"),
    Op("lt", 2, False, "bin", "bool", lambda a, b: a < b, "{a} < {b}"),
    Op("gt", 2, False, "bin", "bool", lambda a, b: a > b, "{a} > {b}"),
    Op("min", 2, False, "bin", "bin", lambda a, b: min(a, b), "min({a}, {b})"),
    Op("max", 2, False, "bin", "bin", lambda a, b: max(a, b), "max({a}, {b})"),
    Op("mul2", 1, False, "bin", "bin", lambda a: a * 2, "{a} * 2"),
    Op("div2", 1, False, "bin", "bin", _div2, "{a} / 2 toward zero"),
    Op("to_bin", 1, False, "dec", "bin", lambda a: a, "{powers}"),
    Op("to_dec", 1, False, "bin", "dec", lambda a: a, "{powers}"),
)
OPS_BY_NAME = {op.name: op for op in OPS}
assert not set(ALIAS_WORDS) & (set(OPS_BY_NAME) | {"true", "false"})


def bits_for_level(level: int) -> int:
    return 32 if level == MAX_LEVEL else level + 1


def is_signed(level: int) -> bool:
    return level >= SIGNED_FROM_LEVEL


def ops_for_level(level: int) -> tuple[Op, ...]:
    return tuple(op for op in OPS if is_signed(level) or not op.signed_only)


def to_circled(value: int, zero: str = ZERO, one: str = ONE) -> str:
    digits = format(abs(value), "b").replace("0", "\0").replace("1", one).replace("\0", zero)
    return ("-" if value < 0 else "") + digits


def from_circled(text: str, zero: str = ZERO, one: str = ONE) -> int:
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if sign < 0 else text
    if not body or any(ch not in (zero, one) for ch in body):
        raise ValueError(f"not a binary number: {text!r}")
    return sign * int(body.replace(zero, "0").replace(one, "1"), 2)


def _operand_count(level: int) -> int:
    magnitude = 2 ** bits_for_level(level)
    return 2 * magnitude - 1 if is_signed(level) else magnitude


def problem_space_size(level: int) -> int:
    """Distinct (op, operands) problems at a level, matching what `_draw_operands` can produce."""
    m = _operand_count(level)
    total = 0
    for op in ops_for_level(level):
        if op.arity == 2:
            total += m * (m + 1) // 2 if (op.name == "sub" and not is_signed(level)) else m * m
        else:
            total += m - 1 if (op.name == "dec" and not is_signed(level)) else m
    return total


def _draw_value(rng: random.Random, level: int) -> int:
    bits = bits_for_level(level)
    # Half the draws use the full width so the level's bit width is actually exercised.
    width = bits if rng.random() < 0.5 else rng.randint(1, bits)
    magnitude = rng.randrange(2 ** width)
    if is_signed(level) and magnitude and rng.random() < 0.5:
        return -magnitude
    return magnitude


def _draw_operands(rng: random.Random, level: int, op: Op) -> tuple[int, ...]:
    args = tuple(_draw_value(rng, level) for _ in range(op.arity))
    if is_signed(level):
        return args
    # Unsigned levels never produce negative results.
    if op.name == "sub" and args[0] < args[1]:
        args = (args[1], args[0])
    if op.name == "dec" and args[0] == 0:
        args = (rng.randrange(1, 2 ** bits_for_level(level)),)
    # eq needs true answers too: about a third of eq problems compare a number with itself.
    if op.name == "eq" and rng.random() < 0.33:
        args = (args[0], args[0])
    return args


@dataclass(frozen=True)
class SymbolKey:
    """A bijective key: every symbol or alias names exactly one meaning, and every meaning has one name."""

    zero: str
    one: str
    aliases: tuple[tuple[str, str], ...]  # (alias, op name)

    def alias_of(self, op_name: str) -> str:
        for alias, name in self.aliases:
            if name == op_name:
                return alias
        raise KeyError(op_name)

    def mapping(self) -> dict[str, str]:
        """symbol -> meaning, as written in the prompt."""
        result = {self.zero: ZERO, self.one: ONE}
        result.update({alias: name for alias, name in self.aliases})
        return result

    def render(self) -> str:
        parts = [f"{self.zero}={ZERO}", f"{self.one}={ONE}"] + [f"{a}={n}" for a, n in self.aliases]
        return "key: " + " ".join(parts)


def draw_key(rng: random.Random, level: int, op: Op) -> SymbolKey:
    zero, one = rng.sample(DIGIT_SYMBOLS, 2)
    others = [o.name for o in ops_for_level(level) if o.name != op.name]
    named = [op.name] + rng.sample(others, KEY_DISTRACTORS)
    rng.shuffle(named)
    aliases = rng.sample(ALIAS_WORDS, len(named))
    return SymbolKey(zero, one, tuple(zip(aliases, named, strict=True)))


def _mode_for(rng: random.Random, level: int) -> str:
    """The level's mix: plain only at the lowest levels, longer modes blended in as levels rise."""
    if level <= 3:
        return "plain"
    share = 0.2 if level < SYMBOLS_FROM_LEVEL else 0.5
    if rng.random() >= share:
        return "plain"
    return rng.choice(MODES[1:])


class _Writer:
    """Renders numbers and operation names in either the circled alphabet or a symbol key."""

    def __init__(self, key: SymbolKey | None) -> None:
        self.key = key
        self.zero, self.one = (key.zero, key.one) if key else (ZERO, ONE)

    def num(self, value: int) -> str:
        return to_circled(value, self.zero, self.one)

    def op(self, op: Op) -> str:
        return self.key.alias_of(op.name) if self.key else op.name

    def arg(self, op: Op, value: int) -> str:
        return str(value) if op.arg_kind == "dec" else self.num(value)

    def result(self, op: Op, value: int | bool) -> str:
        if op.result_kind == "bool":
            return "true" if value else "false"
        if op.result_kind == "dec":
            return str(int(value))
        return self.num(int(value))


def _read_trace(w: _Writer, value: int) -> str:
    """Horner reading of a binary number, digit by digit: ①⓪① -> 1, 2, 5."""
    steps, acc = [], 0
    for ch in format(abs(value), "b"):
        acc = acc * 2 + int(ch)
        steps.append(str(acc))
    sign = "-" if value < 0 else ""
    return f"read {w.num(value)}: {', '.join(steps)}" + (f" -> {sign}{abs(value)}" if sign else "")


def _write_trace(w: _Writer, value: int) -> str:
    """Repeated halving that writes a decimal number in binary: 4 -> 4/2=2 r0, 2/2=1 r0, 1/2=0 r1."""
    n, steps = abs(value), []
    if n == 0:
        return f"write 0: {w.num(0)}"
    while n:
        steps.append(f"{n}/2={n // 2} r{n % 2}")
        n //= 2
    return f"write {value}: {', '.join(steps)} -> {w.num(value)}"


def _work_lines(mode: str, w: _Writer, op: Op, args: tuple[int, ...], result: int | bool) -> list[str]:
    if mode == "plain":
        return []
    names = "ab"
    check = op.check.format(powers=_powers(args[0]), **{names[i]: args[i] for i in range(len(args))})
    rendered = w.result(op, result)
    decimal_result = rendered if op.result_kind == "bool" else str(int(result))
    if mode == "verify":
        return [f"check: {check} = {decimal_result}"]
    lines: list[str] = []
    if mode == "show-work":
        for i, value in enumerate(args):
            if op.arg_kind == "bin":
                lines.append(f"{names[i]} = {w.num(value)} = {value}")
        lines.append(f"{check} = {decimal_result}")
        if op.result_kind == "bin":
            lines.append(f"{int(result)} = {rendered}")
        return lines
    # trace: digit-by-digit reading of every binary operand, the decimal step, and the halving that writes it.
    for value in args:
        if op.arg_kind == "bin":
            lines.append(_read_trace(w, value))
    lines.append(f"{check} = {decimal_result}")
    if op.result_kind == "bin":
        lines.append(_write_trace(w, int(result)))
    return lines


_MODE_TAG = {"plain": "", "verify": "[verify] ", "show-work": "[show-work] ", "trace": "[trace] "}


class BinSkill:
    name = "bin"
    display_name = "Binary arithmetic"
    description = ("Arithmetic on binary numbers written with circled digits ⓪①; level N uses (N+1)-bit "
                   "operands (L30: 32-bit); signed operands from L6, a random symbol language from L8.")
    version = "1"
    modes = MODES

    def levels(self) -> Sequence[LevelSpec]:
        return _levels()

    def sample(self, rng: random.Random, level: int, mode: str | None) -> Problem:
        op = rng.choice(ops_for_level(level))
        args = _draw_operands(rng, level, op)
        result = op.compute(*args)
        chosen_mode = mode or _mode_for(rng, level)
        key = draw_key(rng, level, op) if (level >= SYMBOLS_FROM_LEVEL and rng.random() < SYMBOL_SHARE) else None
        w = _Writer(key)
        lhs = f"{w.op(op)}({', '.join(w.arg(op, a) for a in args)})"
        answer_line = f"{lhs} = {w.result(op, result)}"
        question = _MODE_TAG[chosen_mode] + lhs
        if key is not None:
            question = f"{key.render()}\n{question}"
        solution = "\n".join(_work_lines(chosen_mode, w, op, args, result) + [answer_line])
        payload = {"op": op.name, "args": list(args), "lhs": lhs, "result": w.result(op, result),
                   "result_kind": op.result_kind, "zero": w.zero, "one": w.one}
        if key is not None:
            payload["key"] = key.mapping()
        identity = f"{op.name}|{'|'.join(str(a) for a in args)}"
        return Problem(self.name, level, chosen_mode, identity, (Message("user", question),), solution,
                       answer_line, payload)

    def grade(self, problem: Problem, response: str) -> GradeOutcome:
        return grade_answer_line(problem.payload, response)


_SPACES = re.compile(r"\s+")


def grade_answer_line(payload, response: str) -> GradeOutcome:
    """Strict: the LAST non-empty line must be `lhs = result` with exactly the expected result.

    The result appearing anywhere else (an earlier line, a work line) earns nothing.
    """
    lines = [ln.strip() for ln in response.strip().splitlines() if ln.strip()]
    if not lines:
        return GradeOutcome(False, 0.0, "", "empty response")
    final = lines[-1]
    if "=" not in final:
        return GradeOutcome(False, 0.0, "", "final line is not an answer line `op(args) = result`")
    lhs, answer = (part.strip() for part in final.rsplit("=", 1))
    expected_lhs = _SPACES.sub("", payload["lhs"])
    if _SPACES.sub("", lhs) != expected_lhs:
        return GradeOutcome(False, 0.0, answer, f"final line restates {lhs!r}, expected {payload['lhs']!r}")
    expected = payload["result"]
    if answer == expected:
        return GradeOutcome(True, 1.0, answer, "exact")
    return GradeOutcome(False, _partial(payload, answer), answer, f"wrong result {answer!r}")


def _partial(payload, answer: str) -> float:
    """Share of right-aligned digits that match (sign counts as one more digit); 0 for other kinds."""
    expected = payload["result"]
    if payload["result_kind"] == "bool":
        return 0.0
    allowed = set("-0123456789") if payload["result_kind"] == "dec" else {"-", payload["zero"], payload["one"]}
    if not answer or any(ch not in allowed for ch in answer):
        return 0.0
    width = max(len(answer), len(expected))
    a, e = answer.rjust(width), expected.rjust(width)
    return sum(x == y for x, y in zip(a, e, strict=True)) / width


@lru_cache(maxsize=1)
def _levels() -> tuple[LevelSpec, ...]:
    specs = []
    for level in range(1, MAX_LEVEL + 1):
        bits = bits_for_level(level)
        features = ["signed" if is_signed(level) else "unsigned"]
        if level >= SYMBOLS_FROM_LEVEL:
            features.append("symbol language")
        if level > 3:
            features.append("mixed modes")
        specs.append(LevelSpec(
            number=level,
            title=f"{bits}-bit",
            description=f"{bits}-bit operands, {', '.join(features)}; ops: "
                        + ", ".join(op.name for op in ops_for_level(level)),
            parameters={"bits": str(bits), "signed": str(is_signed(level)).lower(),
                        "symbol_language": str(level >= SYMBOLS_FROM_LEVEL).lower(),
                        "ops": ",".join(op.name for op in ops_for_level(level))},
            pass_threshold=0.9 if level <= 3 else 0.8,
            # Reported while it fits an int64; beyond that it is "effectively unbounded" (0).
            problem_space_size=size if (size := problem_space_size(level)) < 2**63 else 0,
        ))
    return tuple(specs)
