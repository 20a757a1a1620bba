"""Build the SYLLO lexicon from WordNet 3.0, pyphen and wordfreq (reproducible; the output ships in the repo).

    apt-get install -y wordnet-base          # WordNet 3.0 database under /usr/share/wordnet
    .venv/bin/python tools/build_lexicon.py  # writes services/curriculum/data/lexicon.jsonl.gz

One JSON object per line, sorted by word, keys:
  w (word), syl (syllable tiles, pyphen en_US), z (Zipf frequency, wordfreq "en"), pos (n/v/a/r),
  cat (WordNet lexicographer category of the first sense, e.g. "animal"), defs (glosses of the first senses,
  examples stripped), ex (usage examples that contain the word), syn (synonyms), hyper (hypernyms),
  hypo (hyponyms: examples of the word), ant (antonyms), dom (topic domains), der (derivationally related forms).
The gzip header carries no timestamp, so the same inputs give a byte-identical file.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_WORDNET = Path("/usr/share/wordnet")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "services" / "curriculum" / "data" / "lexicon.jsonl.gz"
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# WordNet's lexicographer files, by number (lexnames(5WN)); the part after the dot names the category.
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
WORD_RE = re.compile(r"^[a-z]{4,14}$")
MIN_ZIPF = 2.0
MAX_RELATED = 5


@dataclass
class Synset:
    pos: str
    lexname: str
    lemmas: list[str]
    # (symbol, target offset, target pos, source/target): "0000" is semantic (whole synsets); otherwise the
    # pointer is lexical, from source lemma number ss to target lemma number tt (hex, 1-based) as "sstt".
    pointers: list[tuple[str, str, str, str]]
    gloss_defs: list[str]
    examples: list[str]


@dataclass
class Entry:
    word: str
    senses: list[tuple[str, str]] = field(default_factory=list)  # (pos, offset) in sense order


def _clean_lemma(lemma: str) -> str:
    return re.sub(r"\(.*\)$", "", lemma).replace("_", " ").lower()


def parse_data(path: Path, pos: str) -> dict[str, Synset]:
    synsets: dict[str, Synset] = {}
    with open(path, encoding="latin-1") as handle:
        for line in handle:
            if line.startswith("  "):
                continue  # licence header
            head, _, gloss = line.partition(" | ")
            parts = head.split()
            offset, lex_filenum = parts[0], int(parts[1])
            w_cnt = int(parts[3], 16)
            lemmas = [_clean_lemma(parts[4 + 2 * i]) for i in range(w_cnt)]
            i = 4 + 2 * w_cnt
            p_cnt = int(parts[i])
            pointers = []
            for j in range(p_cnt):
                symbol, target, target_pos, source_target = parts[i + 1 + 4 * j: i + 5 + 4 * j]
                pointers.append((symbol, target, "a" if target_pos == "s" else target_pos, source_target))
            examples = [e.strip() for e in re.findall(r'"([^"]+)"', gloss)]
            defs = [d.strip() for d in re.sub(r'"[^"]*"', "", gloss).split(";")]
            defs = [d for d in defs if len(d) > 2]
            synsets[offset] = Synset(pos, LEXNAMES[lex_filenum].split(".")[1], lemmas, pointers, defs, examples)
    return synsets


def parse_index(path: Path, pos: str, entries: dict[str, Entry]) -> None:
    with open(path, encoding="latin-1") as handle:
        for line in handle:
            if line.startswith("  "):
                continue
            parts = line.split()
            lemma = parts[0]
            if not WORD_RE.match(lemma):
                continue
            p_cnt = int(parts[3])
            offsets = parts[4 + p_cnt + 2:]
            entry = entries.setdefault(lemma, Entry(lemma))
            entry.senses.extend((pos, off) for off in offsets)


def _related(word: str, names: list[str]) -> list[str]:
    """Distinct related words that do not give the answer away (no name containing the word or vice versa)."""
    out: list[str] = []
    for name in names:
        if name == word or word in name or (len(name) >= 4 and name in word) or name in out:
            continue
        out.append(name)
        if len(out) == MAX_RELATED:
            break
    return out


def build(wordnet: Path) -> list[dict]:
    import pyphen
    from wordfreq import zipf_frequency

    synsets: dict[tuple[str, str], Synset] = {}
    entries: dict[str, Entry] = {}
    for pos, name in POS_FILES.items():
        for offset, synset in parse_data(wordnet / f"data.{name}", pos).items():
            synsets[(pos, offset)] = synset
        parse_index(wordnet / f"index.{name}", pos, entries)
    hyphenator = pyphen.Pyphen(lang="en_US")

    rows = []
    for word in sorted(entries):
        entry = entries[word]
        syllables = hyphenator.inserted(word).split("-")
        if len(syllables) < 2 or "".join(syllables) != word:
            continue
        zipf = zipf_frequency(word, "en")
        if zipf < MIN_ZIPF:
            continue
        # The part of speech with the most senses is the word's main one (ties: noun, verb, adj, adv).
        per_pos: dict[str, int] = defaultdict(int)
        for pos, _ in entry.senses:
            per_pos[pos] += 1
        main_pos = max("nvar", key=lambda p: (per_pos[p], -"nvar".index(p)))
        senses = [synsets[(p, off)] for p, off in entry.senses if p == main_pos]
        first = senses[0]
        defs: list[str] = []
        for s in senses[:3]:
            if s.gloss_defs and s.gloss_defs[0] not in defs:
                defs.append(s.gloss_defs[0])
        examples = [e for s in senses for e in s.examples if re.search(rf"\b{word}\b", e.lower())][:2]

        def targets(symbols: tuple[str, ...], from_senses: list[Synset], word: str = word) -> list[str]:
            names = []
            for s in from_senses:
                for symbol, target, target_pos, source_target in s.pointers:
                    if symbol not in symbols:
                        continue
                    lemmas = synsets[(target_pos, target)].lemmas
                    if source_target == "0000":
                        names.extend(lemmas)
                        continue
                    source, dest = int(source_target[:2], 16), int(source_target[2:], 16)
                    # Lexical pointers belong to one lemma of the synset: keep only those from this word.
                    if s.lemmas[source - 1] == word:
                        names.append(lemmas[dest - 1])
            return names

        synonyms = _related(word, [lemma for s in senses[:3] for lemma in s.lemmas])
        rows.append({
            "w": word, "syl": syllables, "z": round(zipf, 2), "pos": main_pos, "cat": first.lexname,
            "defs": defs, "ex": examples, "syn": synonyms,
            "hyper": _related(word, targets(("@", "@i"), senses[:1])),
            "hypo": _related(word, targets(("~", "~i"), senses[:1])),
            "ant": _related(word, targets(("!",), senses)),
            "dom": _related(word, targets((";c",), senses[:2])),
            "der": _related(word, targets(("+",), senses[:3])),
        })
    return rows


def write(rows: list[dict], out: Path) -> None:
    payload = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(payload.encode("utf-8"))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", type=Path, default=DEFAULT_WORDNET, help="WordNet 3.0 dict directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not (args.wordnet / "data.noun").exists():
        print(f"no WordNet data under {args.wordnet}: apt-get install -y wordnet-base", file=sys.stderr)
        return 2
    rows = build(args.wordnet)
    write(rows, args.out)
    print(f"{len(rows)} words -> {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
