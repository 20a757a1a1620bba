"""Intake's token guard measures a row as the worker will train it: with the campaign's mantra applied (the one
function services/kit/mantra.py both use) and, for completion rows, the EOS the worker appends. A row exactly at
max_seq_len passes intake and the worker; one token more is refused by both."""

from __future__ import annotations

import datetime
import json

import pytest
from transformers import AutoTokenizer

from services.kit.errors import InvalidArgument
from services.kit.mantra import RULE_KEEP, RULE_REPLACE, Mantra, apply_mantra_to_row
from services.trainer.heroes import HeroRegistry
from services.trainer.intake import TokenLengthGuard
from services.trainer.worker.packing import tokenize_example, tokenize_quest

TODAY = datetime.date(2026, 12, 1)
CHAT_ROW = {"messages": [{"role": "user", "content": "add(41, 1)"}, {"role": "assistant", "content": "42"}]}
SYSTEM_ROW = {"messages": [{"role": "system", "content": "Be brief."}, *CHAT_ROW["messages"]]}
COMPLETION_ROW = {"text": "one two three four five"}


@pytest.fixture
def hero(tmp_path, tiny_hero_dir, th):
    th.write_hero(tmp_path / "heroes", tiny_hero_dir)
    return HeroRegistry(tmp_path / "heroes", root=tmp_path).get("tiny")


@pytest.fixture
def tokenizer(tiny_hero_dir):
    return AutoTokenizer.from_pretrained(str(tiny_hero_dir))


def worker_length(tokenizer, row, mantra) -> int:
    """What the worker counts (worker/mantra_rows.py, then packing.tokenize_example)."""
    return len(tokenize_example(tokenizer, apply_mantra_to_row(row, mantra, today=TODAY), 1))


def guard(tmp_path, hero, row, max_seq_len, mantra) -> dict:
    path = tmp_path / "quest.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return TokenLengthGuard().check(path, hero, max_seq_len, mantra, TODAY)


def worker_accepts(tokenizer, row, mantra, max_seq_len) -> bool:
    try:
        tokenize_quest(tokenizer, [(1, apply_mantra_to_row(row, mantra, today=TODAY))], max_seq_len=max_seq_len,
                       min_mask_ratio=0.0, max_mask_ratio=1.0)
    except InvalidArgument as exc:
        assert "longer than max_seq_len" in str(exc)
        return False
    return True


@pytest.mark.parametrize("row", [CHAT_ROW, SYSTEM_ROW, COMPLETION_ROW], ids=["chat", "own-system", "completion"])
@pytest.mark.parametrize("mantra", [Mantra(), Mantra("You are Bob, on {date}.", RULE_REPLACE), Mantra("")],
                         ids=["default-keep", "replace", "none"])
def test_a_row_at_max_seq_len_passes_intake_and_the_worker_and_one_token_more_fails_both(
        tmp_path, hero, tokenizer, row, mantra):
    length = worker_length(tokenizer, row, mantra)
    at_bound = guard(tmp_path, hero, row, length, mantra)
    assert at_bound["error_count"] == 0 and at_bound["stats"]["tokens_max"] == length
    assert worker_accepts(tokenizer, row, mantra, length)

    over = guard(tmp_path, hero, row, length - 1, mantra)
    assert over["error_count"] == 1 and over["findings"][0]["kind"] == "too_long"
    assert over["findings"][0]["message"].startswith(f"{length} tokens")
    assert not worker_accepts(tokenizer, row, mantra, length - 1)


def test_the_mantra_counts_for_rows_without_a_system_turn(tmp_path, hero, tokenizer):
    bare = worker_length(tokenizer, CHAT_ROW, None)
    with_mantra = worker_length(tokenizer, CHAT_ROW, Mantra(rule=RULE_KEEP))
    assert with_mantra > bare
    # Measured without the mantra this row would fit max_seq_len = its bare length, then fail in the worker.
    assert guard(tmp_path, hero, CHAT_ROW, bare, Mantra())["error_count"] == 1
    assert not worker_accepts(tokenizer, CHAT_ROW, Mantra(), bare)
    # A row with its own system turn keeps it under the keep rule: the mantra adds nothing there.
    own = worker_length(tokenizer, SYSTEM_ROW, None)
    assert guard(tmp_path, hero, SYSTEM_ROW, own, Mantra())["error_count"] == 0
