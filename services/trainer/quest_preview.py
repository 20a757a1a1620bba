"""The first rows of a quest's file, bounded in rows and bytes: what a queued quest holds, without fetching it.

Each line is read with a byte bound (a single 2 GiB line never lands in memory); a line longer than the bound is
cut and shown as text, a line that is not a JSON object is shown as it is, so a preview never fails on the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from services.kit.errors import FailedPrecondition, InvalidArgument
from services.trainer.models import Quest

DEFAULT_ROWS = 5
MAX_ROWS = 100
MAX_ROW_BYTES = 16 * 1024
MAX_TOTAL_BYTES = 256 * 1024
_SKIP_CHUNK = 64 * 1024


@dataclass(frozen=True)
class PreviewRow:
    line: int
    row: dict[str, Any] | None  # the parsed object, when the line is one and fits the bound
    text: str  # otherwise the raw line (cut to the bound)
    clipped: bool = False


@dataclass(frozen=True)
class QuestPreview:
    quest: str
    rows: list[PreviewRow]
    total_rows: int
    truncated: bool
    max_row_bytes: int = MAX_ROW_BYTES
    max_total_bytes: int = MAX_TOTAL_BYTES


def preview_rows_count(requested: int) -> int:
    if requested == 0:
        return DEFAULT_ROWS
    if requested < 0 or requested > MAX_ROWS:
        raise InvalidArgument(f"must be between 1 and {MAX_ROWS}, got {requested}", field="rows")
    return requested


def preview_quest(quest: Quest, rows: int = 0) -> QuestPreview:
    wanted = preview_rows_count(rows)
    path = Path(quest.file_path) if quest.file_path else None
    if path is None or not path.is_file():
        raise FailedPrecondition(f"the file of {quest.name} is no longer kept by the trainer"
                                 + (f" (its dataset is {quest.dataset_asset} in the vault)" if quest.dataset_asset
                                    else ""), field="name")
    found: list[PreviewRow] = []
    spent = 0
    truncated = False
    with path.open("rb") as handle:
        line_no = 0
        while True:
            raw, clipped = _read_line(handle)
            if raw is None:
                break
            line_no += 1
            if not raw.strip():
                continue
            if len(found) >= wanted or spent + len(raw) > MAX_TOTAL_BYTES:
                truncated = True  # another non-blank line exists beyond what is returned
                break
            spent += len(raw)
            found.append(_row(line_no, raw, clipped, first=line_no == 1))
    return QuestPreview(quest.name, found, quest.rows, truncated)


def _read_line(handle: BinaryIO) -> tuple[bytes | None, bool]:
    """The next line without its newline, at most MAX_ROW_BYTES of it; the rest of a longer line is skipped."""
    raw = handle.readline(MAX_ROW_BYTES + 1)
    if not raw:
        return None, False
    if raw.endswith(b"\n") or len(raw) <= MAX_ROW_BYTES:
        return raw.rstrip(b"\r\n"), False
    while True:  # skip to the end of this line, a chunk at a time
        rest = handle.readline(_SKIP_CHUNK)
        if not rest or rest.endswith(b"\n"):
            break
    return raw[:MAX_ROW_BYTES], True


def _row(line_no: int, raw: bytes, clipped: bool, *, first: bool) -> PreviewRow:
    text = raw.decode("utf-8-sig" if first else "utf-8", errors="replace")
    if clipped:
        return PreviewRow(line_no, None, text, clipped=True)
    try:
        parsed = json.loads(text)
    except ValueError:
        return PreviewRow(line_no, None, text)
    if not isinstance(parsed, dict):
        return PreviewRow(line_no, None, text)
    return PreviewRow(line_no, parsed, "")
