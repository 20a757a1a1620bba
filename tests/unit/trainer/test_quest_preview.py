"""Quest previews: the first N non-blank rows, bounded per row and in all; malformed and oversized lines shown as
text rather than failing; a missing file is a precondition error naming the quest."""

from __future__ import annotations

import json

import pytest

from services.kit.errors import FailedPrecondition, InvalidArgument
from services.trainer.models import Priority, Quest, QuestState
from services.trainer.quest_preview import MAX_ROW_BYTES, MAX_ROWS, MAX_TOTAL_BYTES, preview_quest


def quest_with(tmp_path, content: bytes, rows: int = 0) -> Quest:
    path = tmp_path / "quest.jsonl"
    path.write_bytes(content)
    return Quest("q", "q", "campaigns/c", Priority.NORMAL, QuestState.QUEUED, 0, rows=rows, file_path=str(path))


def test_first_rows_skip_blank_lines_and_keep_line_numbers(tmp_path):
    rows = [{"text": f"row {i}"} for i in range(8)]
    content = "\ufeff" + json.dumps(rows[0]) + "\n\n" + "\n".join(json.dumps(r) for r in rows[1:]) + "\n"
    found = preview_quest(quest_with(tmp_path, content.encode(), rows=8), 3)
    assert [(r.line, r.row) for r in found.rows] == [(1, rows[0]), (3, rows[1]), (4, rows[2])]
    assert found.truncated and found.total_rows == 8
    everything = preview_quest(quest_with(tmp_path, content.encode(), rows=8), 8)
    assert len(everything.rows) == 8 and not everything.truncated


def test_malformed_and_oversized_lines_are_shown_as_text(tmp_path):
    long_line = json.dumps({"text": "x" * (MAX_ROW_BYTES * 3)})
    content = f'not json\n[1, 2]\n{long_line}\n{{"text": "after"}}\n'.encode()
    found = preview_quest(quest_with(tmp_path, content), 10)
    assert [(r.line, r.row, r.text, r.clipped) for r in found.rows[:2]] == [(1, None, "not json", False),
                                                                           (2, None, "[1, 2]", False)]
    clipped = found.rows[2]
    assert clipped.clipped and clipped.row is None and len(clipped.text.encode()) == MAX_ROW_BYTES
    assert found.rows[3].row == {"text": "after"} and found.rows[3].line == 4  # the long line was skipped past


def test_the_total_byte_bound_stops_early_and_says_so(tmp_path):
    row = json.dumps({"text": "y" * (MAX_ROW_BYTES - 100)})
    found = preview_quest(quest_with(tmp_path, ((row + "\n") * MAX_ROWS).encode()), MAX_ROWS)
    assert found.truncated and sum(len(json.dumps(r.row)) for r in found.rows) <= MAX_TOTAL_BYTES
    assert len(found.rows) == MAX_TOTAL_BYTES // (len(row))


@pytest.mark.parametrize("rows", [-1, MAX_ROWS + 1])
def test_row_counts_out_of_bounds_name_the_field(tmp_path, rows):
    with pytest.raises(InvalidArgument) as raised:
        preview_quest(quest_with(tmp_path, b'{"text": "a"}\n'), rows)
    assert raised.value.field == "rows"


def test_a_quest_whose_file_is_gone_is_a_precondition_error(tmp_path):
    quest = quest_with(tmp_path, b'{"text": "a"}\n')
    (tmp_path / "quest.jsonl").unlink()
    with pytest.raises(FailedPrecondition) as raised:
        preview_quest(quest)
    assert raised.value.field == "name" and "no longer kept" in raised.value.message
