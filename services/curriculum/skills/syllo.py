"""SYLLO: syllacrostic puzzles.

Numbered clues, each showing one `___` per syllable, and a shuffled bank of syllable tiles. The solver rebuilds
every hidden word using every tile exactly once; from L4 on, red-herring tiles are added that must stay unused.
Levels vary word count, syllables per word, word rarity (Zipf floor), syllable overlap between words, red
herrings and hint strength.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from services.curriculum.lexicon import LexEntry, load_lexicon
from services.curriculum.skills.base import GradeOutcome, LevelSpec, Message, Problem

# Clue types from strong to weak.
CLUE_TYPES = ("definition", "synonym", "category", "example", "hypernym", "antonym", "domain", "morphology",
              "starts_with")
MASK = "~"
# Lexicographer categories too vague to be a clue on their own.
VAGUE_CATEGORIES = {"all", "pert", "ppl", "Tops", "stative", "change", "social"}


@dataclass(frozen=True)
class SylloLevel:
    number: int
    words: int
    min_syllables: int
    max_syllables: int
    zipf_floor: float
    red_herrings: int
    # Probability that a further word is chosen to share a syllable tile with the words already chosen.
    overlap: float
    clue_types: tuple[str, ...]
    pass_threshold: float = 0.8


LEVELS: tuple[SylloLevel, ...] = (
    SylloLevel(1, 4, 2, 3, 5.5, 0, 0.0, ("definition",)),
    SylloLevel(2, 4, 2, 3, 5.0, 0, 0.0, ("definition",)),
    SylloLevel(3, 5, 2, 3, 4.5, 0, 0.1, ("definition", "synonym")),
    SylloLevel(4, 5, 2, 4, 4.0, 1, 0.1, ("definition", "synonym", "category")),
    SylloLevel(5, 6, 2, 4, 3.5, 1, 0.2, ("definition", "synonym", "category", "example")),
    SylloLevel(6, 6, 3, 4, 3.5, 2, 0.2, ("synonym", "category", "example", "hypernym")),
    SylloLevel(7, 7, 3, 4, 3.0, 2, 0.3, ("synonym", "category", "example", "hypernym", "antonym")),
    SylloLevel(8, 7, 3, 5, 3.0, 3, 0.3, ("category", "example", "hypernym", "antonym", "domain")),
    SylloLevel(9, 8, 3, 5, 2.5, 4, 0.4, ("example", "hypernym", "antonym", "domain", "morphology")),
    SylloLevel(10, 8, 4, 5, 2.5, 4, 0.4, ("hypernym", "antonym", "domain", "morphology", "starts_with")),
    SylloLevel(11, 9, 4, 6, 2.0, 5, 0.5, ("antonym", "domain", "morphology", "starts_with")),
    SylloLevel(12, 10, 4, 6, 2.0, 6, 0.6, ("domain", "morphology", "starts_with")),
)


def _mask(text: str, word: str) -> str:
    """Hide the target (and its inflections, by shared stem) inside a definition or example."""
    stem = word[: max(4, len(word) - 3)]
    return re.sub(rf"\b{re.escape(stem)}\w*", MASK, text, flags=re.IGNORECASE)


def _clue_text(entry: LexEntry, kind: str, rng: random.Random) -> str | None:
    """One hint of the given kind, or None when the lexicon has nothing usable for this word."""
    if kind == "definition" and entry.definitions:
        return "definition: " + _mask(entry.definitions[0], entry.word)
    if kind == "synonym" and entry.synonyms:
        return "synonym: " + rng.choice(entry.synonyms)
    if kind == "category" and entry.category not in VAGUE_CATEGORIES:
        kind_of = {"n": "a noun", "v": "a verb", "a": "an adjective", "r": "an adverb"}[entry.pos]
        return f"category: {kind_of} of {entry.category}"
    if kind == "example":
        usable = [e for e in entry.examples if MASK in _mask(e, entry.word)]
        if usable:
            return f'example: "{_mask(rng.choice(usable), entry.word)}"'
        if entry.hyponyms:
            return "examples of it: " + ", ".join(entry.hyponyms[:3])
        return None
    if kind == "hypernym" and entry.hypernyms:
        return "a kind of: " + entry.hypernyms[0]
    if kind == "antonym" and entry.antonyms:
        return "opposite of: " + entry.antonyms[0]
    if kind == "domain" and entry.domains:
        return "used in the domain of: " + entry.domains[0]
    if kind == "morphology" and entry.derived:
        return "related form: " + entry.derived[0]
    if kind == "starts_with":
        return f"starts with {entry.word[0].upper()}, {len(entry.word)} letters"
    return None


def make_clue(entry: LexEntry, level: SylloLevel, rng: random.Random) -> tuple[str, str]:
    """A clue of one of the level's types; if the word has none of them, the next weaker type that exists."""
    kinds = list(level.clue_types)
    rng.shuffle(kinds)
    weakest = CLUE_TYPES.index(level.clue_types[-1])
    for kind in kinds + list(CLUE_TYPES[weakest:]):
        text = _clue_text(entry, kind, rng)
        if text is not None:
            return kind, text
    raise AssertionError("starts_with always yields a clue")


@lru_cache(maxsize=len(LEVELS))
def _pool(number: int) -> tuple[tuple[LexEntry, ...], dict[str, tuple[int, ...]]]:
    """The level's candidate words and, per tile, the indexes of candidates that contain it."""
    level = LEVELS[number - 1]
    words = tuple(e for e in load_lexicon()
                  if e.zipf >= level.zipf_floor and level.min_syllables <= len(e.syllables) <= level.max_syllables
                  and e.definitions)
    by_tile: dict[str, list[int]] = {}
    for i, e in enumerate(words):
        for tile in set(e.syllables):
            by_tile.setdefault(tile.upper(), []).append(i)
    return words, {k: tuple(v) for k, v in by_tile.items()}


def _choose_words(rng: random.Random, level: SylloLevel) -> list[LexEntry]:
    words, by_tile = _pool(level.number)
    chosen: list[int] = []
    while len(chosen) < level.words:
        index = rng.randrange(len(words))
        if chosen and rng.random() < level.overlap:
            tiles = sorted({t.upper() for i in chosen for t in words[i].syllables})
            sharing = [i for i in by_tile[rng.choice(tiles)] if i not in chosen]
            if sharing:
                index = rng.choice(sharing)
        if index not in chosen:
            chosen.append(index)
    return [words[i] for i in chosen]


def _red_herrings(rng: random.Random, level: SylloLevel, needed: set[str]) -> list[str]:
    words, _ = _pool(level.number)
    herrings: list[str] = []
    while len(herrings) < level.red_herrings:
        tile = rng.choice(rng.choice(words).syllables).upper()
        if tile not in needed and tile not in herrings:
            herrings.append(tile)
    return herrings


def solution_json(words: Sequence[str]) -> str:
    return json.dumps({"solutions": {str(i + 1): w for i, w in enumerate(words)}}, separators=(", ", ": "))


class SylloSkill:
    name = "syllo"
    display_name = "Syllacrostics"
    description = ("Rebuild hidden words from a shuffled bank of syllable tiles and clues; higher levels add "
                   "longer and rarer words, weaker clues, shared syllables and red-herring tiles.")
    version = "1"
    modes = ("plain",)

    def levels(self) -> Sequence[LevelSpec]:
        return _levels()

    def sample(self, rng: random.Random, level: int, mode: str | None) -> Problem:
        spec = LEVELS[level - 1]
        entries = _choose_words(rng, spec)
        words = [e.word.upper() for e in entries]
        tiles = [s.upper() for e in entries for s in e.syllables]
        herrings = _red_herrings(rng, spec, set(tiles))
        bank = tiles + herrings
        rng.shuffle(bank)
        clue_lines, clue_kinds = [], []
        for n, entry in enumerate(entries, start=1):
            kind, text = make_clue(entry, spec, rng)
            clue_kinds.append(kind)
            clue_lines.append(f"{n}. {' '.join('___' for _ in entry.syllables)}  {text}")
        rules = "Use every tile exactly once."
        if herrings:
            rules = ("1 tile is a red herring that stays unused"
                     if len(herrings) == 1 else f"{len(herrings)} tiles are red herrings that stay unused")
            rules += "; use every other tile exactly once."
        question = "\n".join([
            "Syllacrostic: find the hidden word for each clue; each ___ is one syllable tile. " + rules,
            "Tiles: " + " ".join(bank), *clue_lines,
            'Answer as JSON {"solutions": {"1": "WORD", ...}}.'])
        work = [f"{n}. {'+'.join(s.upper() for s in e.syllables)} = {e.word.upper()}"
                for n, e in enumerate(entries, start=1)]
        expected = solution_json(words)
        payload = {"words": words, "syllables": [[s.upper() for s in e.syllables] for e in entries],
                   "bank": bank, "red_herrings": herrings, "clue_types": clue_kinds}
        return Problem(self.name, level, "plain", "|".join(sorted(words)), (Message("user", question),),
                       "\n".join(work + [expected]), expected, payload)

    def grade(self, problem: Problem, response: str) -> GradeOutcome:
        return grade_syllo(problem.payload, response)


# ---------------------------------------------------------------------------------------------- grading
# The answer must END the response (work lines may come before it, nothing but a closing code fence after),
# and must answer exactly the clues asked: an extra, repeated or unnumbered answer fails instead of being dropped.
_NUMBERED = re.compile(r"^\s*(?:clue\s*)?(\d+)\s*[.):\-]\s*(.+?)\s*$", re.IGNORECASE)
_LETTERS = re.compile(r"[^A-Za-z]")
# One bare word per line (tiles may be joined with + or -): the plain "one answer per line" format.
_WORD_LINE = re.compile(r"^[A-Za-z][A-Za-z+'\-]*$")
_FENCE = re.compile(r"\s*```\s*$")


@dataclass(frozen=True)
class ParsedAnswers:
    answers: dict[int, str]  # clue number -> WORD
    format: str
    problems: tuple[str, ...] = ()  # why the answer cannot count even where its words are right


def _word(value: object) -> str:
    return _LETTERS.sub("", str(value)).upper()


def _from_json(obj: object, count: int) -> ParsedAnswers | None:
    if isinstance(obj, dict) and "solutions" in obj:
        if len(obj) > 1:
            extra = ", ".join(sorted(str(k) for k in obj if k != "solutions"))
            return ParsedAnswers({}, "json", (f"keys besides solutions: {extra}",))
        obj = obj["solutions"]
    if isinstance(obj, list):
        answers = {i + 1: _word(v) for i, v in enumerate(obj)}
        return ParsedAnswers(answers, "json", _count_problems(answers, count))
    if isinstance(obj, dict):
        answers, unnumbered = {}, []
        for key, value in obj.items():
            if str(key).strip().isdigit():
                answers[int(str(key).strip())] = _word(value)
            else:
                unnumbered.append(str(key))
        if not answers:
            return None
        problems = _count_problems(answers, count)
        if unnumbered:
            problems += (f"answers not numbered by clue: {', '.join(unnumbered)}",)
        return ParsedAnswers(answers, "json", problems)
    return None


def _count_problems(answers: dict[int, str], count: int) -> tuple[str, ...]:
    extra = sorted(k for k in answers if not 1 <= k <= count)
    if extra:
        return (f"{len(answers)} answers for {count} clues (extra: {', '.join(map(str, extra))})",)
    return ()


def _final_json(text: str) -> object | None:
    """The JSON value that ends the text (a closing code fence may follow), if any."""
    text = _FENCE.sub("", text).rstrip()
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, end = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if end == len(text):
            return value
    return None


def _trailing(lines: list[str], keep) -> list[str]:
    """The longest run of lines at the end for which keep(line) holds."""
    run: list[str] = []
    for line in reversed(lines):
        if not keep(line):
            break
        run.append(line)
    return run[::-1]


def parse_answers(response: str, count: int) -> ParsedAnswers:
    """Clue number -> WORD from the accepted format that ends the response; also names the format found."""
    final = _final_json(response)
    if final is not None and (parsed := _from_json(final, count)) is not None:
        return parsed
    lines = [ln.strip() for ln in _FENCE.sub("", response).strip().splitlines() if ln.strip()]
    numbered_lines = _trailing(lines, _NUMBERED.match)
    if numbered_lines:
        answers: dict[int, str] = {}
        repeated = []
        for line in numbered_lines:
            m = _NUMBERED.match(line)
            number = int(m.group(1))
            if number in answers:
                repeated.append(str(number))
            answers[number] = _word(m.group(2).rsplit("=", 1)[-1])  # "1. BEAU+TI+FUL = BEAUTIFUL": word last
        problems = _count_problems(answers, count)
        if repeated:
            problems += (f"clues answered more than once: {', '.join(repeated)}",)
        return ParsedAnswers(answers, "numbered", problems)
    if lines and "," in lines[-1]:
        items = lines[-1].split(",")
        answers = {i + 1: _word(v) for i, v in enumerate(items)}
        return ParsedAnswers(answers, "comma", _count_problems(answers, count))
    words = _trailing(lines, _WORD_LINE.match)
    answers = {i + 1: _word(v) for i, v in enumerate(words)}
    return ParsedAnswers(answers, "lines", _count_problems(answers, count))


def _segment_all(words: Sequence[str], inventory: Counter) -> bool:
    """Can every word be cut into bank tiles, no tile used more often than the bank has it?"""
    if not words:
        return True
    first, rest = words[0], words[1:]

    def cut(remaining: str) -> bool:
        if not remaining:
            return _segment_all(rest, inventory)
        for tile in list(inventory):
            if inventory[tile] > 0 and remaining.startswith(tile):
                inventory[tile] -= 1
                if cut(remaining[len(tile):]):
                    inventory[tile] += 1
                    return True
                inventory[tile] += 1
        return False

    return cut(first)


def grade_syllo(payload, response: str) -> GradeOutcome:
    expected: list[str] = list(payload["words"])
    parsed = parse_answers(response, len(expected))
    answers, fmt = parsed.answers, parsed.format
    right = [answers.get(i + 1, "") == word for i, word in enumerate(expected)]
    partial = sum(right) / len(expected)
    summary = json.dumps({str(k): v for k, v in sorted(answers.items())})
    if parsed.problems:
        return GradeOutcome(False, partial, summary, f"{'; '.join(parsed.problems)} "
                                                     f"({sum(right)}/{len(expected)} words right, {fmt})")
    given = [w for w in answers.values() if w]
    if not _segment_all(given, Counter(payload["bank"])):
        return GradeOutcome(False, partial, summary, f"tile misuse: the answers cannot be built from the bank "
                                                     f"({sum(right)}/{len(expected)} words right, {fmt})")
    if all(right):
        return GradeOutcome(True, 1.0, summary, f"all {len(expected)} words right ({fmt})")
    wrong = [str(i + 1) for i, ok in enumerate(right) if not ok]
    return GradeOutcome(False, partial, summary, f"wrong or missing words for clues {', '.join(wrong)} ({fmt})")


@lru_cache(maxsize=1)
def _levels() -> tuple[LevelSpec, ...]:
    specs = []
    for lv in LEVELS:
        specs.append(LevelSpec(
            number=lv.number,
            title=f"{lv.words} words, {lv.min_syllables}-{lv.max_syllables} syllables",
            description=(f"{lv.words} words of {lv.min_syllables}-{lv.max_syllables} syllables, Zipf >= "
                         f"{lv.zipf_floor}, {lv.red_herrings} red herrings, clues: {', '.join(lv.clue_types)}"),
            parameters={"words": str(lv.words), "min_syllables": str(lv.min_syllables),
                        "max_syllables": str(lv.max_syllables), "zipf_floor": str(lv.zipf_floor),
                        "red_herrings": str(lv.red_herrings), "overlap": str(lv.overlap),
                        "clue_types": ",".join(lv.clue_types)},
            pass_threshold=lv.pass_threshold,
            problem_space_size=0,  # word sets from thousands of words: effectively unbounded
        ))
    return tuple(specs)
