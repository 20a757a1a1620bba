"""The mantra rule (services/kit/mantra.py): the one function training and serving both call."""

from __future__ import annotations

import datetime

import pytest

from services.kit.errors import InvalidArgument
from services.kit.mantra import (
    DEFAULT_MANTRA_TEXT,
    MANTRA_FILE,
    Mantra,
    apply_mantra,
    apply_mantra_to_row,
    read_mantra_file,
    write_mantra_file,
)

DAY = datetime.date(2026, 12, 1)
USER = {"role": "user", "content": "1 + 1 ="}
OWN = {"role": "system", "content": "Be terse."}


def test_default_mantra_fills_the_date_and_is_prepended_when_there_is_no_system_turn():
    applied = apply_mantra([USER], Mantra(), today=DAY)
    assert applied == [{"role": "system", "content": "Today is 2026-12-01. You are happy. You enjoy helping others."},
                       USER]
    assert Mantra().text == DEFAULT_MANTRA_TEXT and Mantra().rule == "keep" and Mantra().version == 1


def test_keep_leaves_a_rows_own_system_turn_and_replace_swaps_it():
    assert apply_mantra([OWN, USER], Mantra(rule="keep"), today=DAY) == [OWN, USER]
    replaced = apply_mantra([OWN, USER], Mantra(rule="replace"), today=DAY)
    assert replaced[0]["content"].startswith("Today is 2026-12-01.") and replaced[1:] == [USER]
    # Only a leading system turn is the conversation's system prompt.
    late = [USER, {"role": "assistant", "content": "10"}, OWN]
    assert apply_mantra(late, Mantra(rule="keep"), today=DAY)[1:] == late


def test_empty_text_or_no_mantra_changes_nothing_and_input_is_never_mutated():
    messages = [USER]
    assert apply_mantra(messages, Mantra(text=""), today=DAY) == [USER]
    assert apply_mantra(messages, None) == [USER]
    apply_mantra(messages, Mantra(), today=DAY)
    assert messages == [USER]


def test_only_the_date_placeholder_is_interpreted():
    text = "Day {date}; json {\"a\": 1} and {name} stay."
    assert Mantra(text=text).system_text(DAY) == "Day 2026-12-01; json {\"a\": 1} and {name} stay."


def test_completion_rows_pass_unchanged_and_chat_rows_get_the_mantra():
    assert apply_mantra_to_row({"text": "abc"}, Mantra(), today=DAY) == {"text": "abc"}
    row = {"messages": [USER, {"role": "assistant", "content": "10"}], "metadata": {"k": 1}}
    applied = apply_mantra_to_row(row, Mantra(), today=DAY)
    assert applied["metadata"] == {"k": 1} and applied["messages"][0]["role"] == "system"
    assert row["messages"][0] == USER


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"rule": "prepend"}, "mantra.rule"),
    ({"text": "x" * 8001}, "mantra.text"),
    ({"text": "a\x00b"}, "mantra.text"),
    ({"version": -1}, "mantra.version"),
])
def test_bad_mantras_name_the_field(kwargs, field):
    with pytest.raises(InvalidArgument) as caught:
        Mantra(**kwargs)
    assert caught.value.field == field


def test_the_checkpoint_file_round_trips_and_a_bad_one_is_an_error(tmp_path):
    mantra = Mantra(text="Hi {date}", rule="replace", version=4)
    path = write_mantra_file(tmp_path, mantra)
    assert path.name == MANTRA_FILE and read_mantra_file(tmp_path) == mantra
    assert read_mantra_file(tmp_path / "nowhere") is None
    path.write_text('{"text": "x", "rule": "keep", "version": 1, "extra": 2}')
    with pytest.raises(InvalidArgument) as caught:
        read_mantra_file(tmp_path)
    assert caught.value.field == MANTRA_FILE
    path.write_text("not json")
    with pytest.raises(InvalidArgument):
        read_mantra_file(tmp_path)
