"""The mantra: a campaign's base system prompt, applied the same way when training and when serving.

One pure function, `apply_mantra`, decides the system turn for both sides: the training worker applies it to every
chat row before tokenising, the inference service to every chat request for a checkpoint trained with it. The
mantra travels with each checkpoint as `mantra.json` (text, rule, version) so serving never guesses.

Rules (per campaign):
  keep     rows/conversations that already start with a system turn keep theirs; the others get the mantra.
  replace  the mantra replaces a leading system turn, or is prepended when there is none.
An empty text means "no mantra": messages pass through unchanged.

`{date}` in the text is filled with the ISO date (YYYY-MM-DD) of the day it is used: the day a row is
tokenised for training, the day a request is served. Nothing else in the text is interpreted (braces stay).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.kit.errors import InvalidArgument
from services.kit.files import atomic_write_text

DEFAULT_MANTRA_TEXT = "Today is {date}. You are happy. You enjoy helping others."
RULE_KEEP = "keep"
RULE_REPLACE = "replace"
RULES = (RULE_KEEP, RULE_REPLACE)
MAX_MANTRA_CHARS = 8000
MANTRA_FILE = "mantra.json"
DATE_PLACEHOLDER = "{date}"


@dataclass(frozen=True)
class Mantra:
    text: str = DEFAULT_MANTRA_TEXT
    rule: str = RULE_KEEP
    # Bumped on every change of text or rule; 1 = the campaign's first (default) mantra.
    version: int = 1

    def __post_init__(self) -> None:
        check_mantra(self.text, self.rule)
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 0:
            raise InvalidArgument(f"must be an integer >= 0, got {self.version!r}", field="mantra.version")

    @property
    def enabled(self) -> bool:
        return bool(self.text.strip())

    def system_text(self, today: _dt.date) -> str:
        return self.text.replace(DATE_PLACEHOLDER, today.isoformat())

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "rule": self.rule, "version": self.version}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], field: str = "mantra") -> Mantra:
        if not isinstance(data, Mapping):
            raise InvalidArgument("must be an object with text, rule and version", field=field)
        unknown = sorted(set(data) - {"text", "rule", "version"})
        if unknown:
            raise InvalidArgument(f"unknown keys {unknown}", field=field)
        text, rule, version = data.get("text", ""), data.get("rule", RULE_KEEP), data.get("version", 0)
        if not isinstance(text, str):
            raise InvalidArgument("must be a string", field=f"{field}.text")
        if not isinstance(rule, str):
            raise InvalidArgument("must be a string", field=f"{field}.rule")
        return cls(text=text, rule=rule, version=version)


def check_mantra(text: str, rule: str) -> None:
    """Raise InvalidArgument naming the field when the text or the rule is not acceptable."""
    if not isinstance(text, str):
        raise InvalidArgument("must be a string", field="mantra.text")
    if len(text) > MAX_MANTRA_CHARS:
        raise InvalidArgument(f"{len(text)} characters, more than {MAX_MANTRA_CHARS}", field="mantra.text")
    if "\x00" in text:
        raise InvalidArgument("must not contain NUL characters", field="mantra.text")
    if rule not in RULES:
        raise InvalidArgument(f"must be one of {', '.join(RULES)}; got {rule!r}", field="mantra.rule")


def apply_mantra(
    messages: Sequence[Mapping[str, str]], mantra: Mantra | None, *, today: _dt.date | None = None
) -> list[dict[str, str]]:
    """The conversation with the mantra's system turn decided by its rule (a new list; the input is untouched).

    The one place both training and serving decide the system turn: call it with the same mantra and date on
    both sides and the rendered prompts agree token for token.
    """
    copied = [{"role": m["role"], "content": m["content"]} for m in messages]
    if mantra is None or not mantra.enabled:
        return copied
    system = {"role": "system", "content": mantra.system_text(today or _dt.date.today())}
    has_system = bool(copied) and copied[0]["role"] == "system"
    if has_system and mantra.rule == RULE_KEEP:
        return copied
    if has_system:  # RULE_REPLACE
        return [system, *copied[1:]]
    return [system, *copied]


def apply_mantra_to_row(row: Mapping[str, Any], mantra: Mantra | None, *, today: _dt.date | None = None) -> dict:
    """A training row with the mantra applied to its messages; completion rows ({"text": ...}) pass unchanged."""
    if mantra is None or "messages" not in row:
        return dict(row)
    return {**row, "messages": apply_mantra(row["messages"], mantra, today=today)}


# ---- the file carried in a checkpoint directory -------------------------------------------------------------
def write_mantra_file(directory: Path, mantra: Mantra) -> Path:
    """Write directory/mantra.json atomically (temp + fsync + rename)."""
    return atomic_write_text(Path(directory) / MANTRA_FILE,
                             json.dumps(mantra.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_mantra_file(directory: Path) -> Mantra | None:
    """The mantra a checkpoint was trained with; None when the directory has no mantra.json (e.g. a base model).

    A malformed file is an error naming it, never silently ignored: serving without the trained system turn
    would break train/serve parity unnoticed.
    """
    path = Path(directory) / MANTRA_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"{path}: not a readable mantra file ({exc})", field=MANTRA_FILE) from None
    return Mantra.from_dict(data, field=MANTRA_FILE)
