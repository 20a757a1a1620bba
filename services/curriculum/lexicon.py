"""The shipped SYLLO lexicon (built by tools/build_lexicon.py from WordNet 3.0, pyphen and wordfreq)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LEXICON_PATH = Path(__file__).resolve().parent / "data" / "lexicon.jsonl.gz"


@dataclass(frozen=True)
class LexEntry:
    word: str
    syllables: tuple[str, ...]
    zipf: float
    pos: str
    category: str
    definitions: tuple[str, ...]
    examples: tuple[str, ...]
    synonyms: tuple[str, ...]
    hypernyms: tuple[str, ...]
    hyponyms: tuple[str, ...]
    antonyms: tuple[str, ...]
    domains: tuple[str, ...]
    derived: tuple[str, ...]


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_PATH) -> tuple[LexEntry, ...]:
    entries = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            r = json.loads(line)
            entries.append(LexEntry(r["w"], tuple(r["syl"]), r["z"], r["pos"], r["cat"], tuple(r["defs"]),
                                    tuple(r["ex"]), tuple(r["syn"]), tuple(r["hyper"]), tuple(r["hypo"]),
                                    tuple(r["ant"]), tuple(r["dom"]), tuple(r["der"])))
    return tuple(entries)
