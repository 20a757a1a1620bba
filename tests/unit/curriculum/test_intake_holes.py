"""Holes a probe found in intake and grading (issue 15): unknown top-level keys, BOM + CRLF files, binary files
without a schema, and SYLLO answers with more words than clues."""

from __future__ import annotations

import json

import pytest

from services.curriculum.skills.base import generate_problems
from services.curriculum.skills.registry import default_registry
from services.curriculum.validation import Level, ValidationOptions, validate_bytes

CHAT = ValidationOptions(schema_id="chat_sft_v1", level=Level.DEEP)
ROW = {"messages": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]}
ROW2 = {"messages": [{"role": "user", "content": "What is 2+3?"}, {"role": "assistant", "content": "5"}]}
SYLLO = default_registry().get("syllo")


def lines(*rows) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


# ------------------------------------------------------------------ unknown top-level keys
def test_an_unknown_top_level_key_is_an_error_naming_the_key():
    report = validate_bytes(lines(ROW, {**ROW, "answer": "4"}), CHAT)
    assert not report.accepted and report.error_count == 1
    (finding,) = report.findings
    assert (finding.kind, finding.line, finding.field) == ("unknown_field", 2, "answer")
    assert "'answer'" in finding.message and "metadata" in finding.message


def test_metadata_holds_free_form_data():
    report = validate_bytes(lines({**ROW, "metadata": {"answer": "4", "source": {"any": ["thing"]}}}), CHAT)
    assert report.accepted and report.findings == []


def test_unknown_keys_are_denied_for_completion_rows_too():
    opts = ValidationOptions(schema_id="completion_v1")
    report = validate_bytes(lines({"text": "hello world", "prompt": "x", "label": 1}), opts)
    assert not report.accepted
    assert [(f.kind, f.field) for f in report.findings] == [("unknown_field", "prompt"), ("unknown_field", "label")]
    assert validate_bytes(lines({"text": "hello world", "metadata": {"k": 1}}), opts).accepted


# ------------------------------------------------------------------ BOM and CRLF
def test_a_utf8_file_with_a_bom_and_crlf_line_ends_is_read():
    data = b"\xef\xbb\xbf" + lines(ROW, {**ROW2, "metadata": {"n": 2}}).replace(b"\n", b"\r\n")
    report = validate_bytes(data, CHAT, chunk_size=2)  # the BOM and each CR straddle chunks
    assert report.accepted and report.rows == 2 and report.findings == []
    # Named by a sidecar instead of a header: the same.
    assert validate_bytes(data, ValidationOptions(sidecar_json='{"schema_id": "chat_sft_v1"}')).accepted


def test_a_bom_is_only_skipped_at_the_start_of_the_file():
    report = validate_bytes(lines(ROW) + b"\xef\xbb\xbf" + lines(ROW), CHAT)
    assert not report.accepted and report.first("json_parse").line == 2


# ------------------------------------------------------------------ files that are not JSON text
def test_a_binary_file_without_a_schema_is_reported_as_not_utf8_text():
    garbage = bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0xFF, 0xFE, 0x80]) + bytes(range(128, 256))
    report = validate_bytes(garbage, ValidationOptions())
    assert not report.accepted and report.first("missing_schema") is None
    first = report.findings[0]
    assert (first.kind, first.line) == ("encoding", 1) and first.message.startswith("not UTF-8 text")
    nul = validate_bytes(b"PK\x03\x04\x00\x00binary", ValidationOptions())
    assert (nul.findings[0].kind, nul.findings[0].line) == ("binary_data", 1)
    assert nul.findings[0].message.startswith("not UTF-8 text") and nul.first("missing_schema") is None


def test_a_text_file_that_is_not_json_is_reported_as_not_json_at_line_1():
    report = validate_bytes(b"hello, this is a README\nsecond line\n", ValidationOptions())
    assert not report.accepted and report.first("missing_schema") is None
    (finding,) = report.findings
    assert (finding.kind, finding.line) == ("json_parse", 1) and finding.message.startswith("not JSON at line 1")
    assert report.error_count == 1 and dict(report.counts) == {("json_parse", finding.severity): 1}


def test_a_json_file_without_a_schema_is_still_missing_its_schema():
    report = validate_bytes(b"\n" + lines(ROW), ValidationOptions())
    assert not report.accepted and report.first("missing_schema") is not None
    assert report.first("json_parse") is None


# ------------------------------------------------------------------ SYLLO: extra answers
@pytest.fixture
def puzzle():
    (problem,) = generate_problems(SYLLO, 2, 1, seed=4)
    return problem, list(problem.payload["words"])


def test_more_words_than_clues_fail_in_every_format(puzzle):
    problem, words = puzzle
    extra = words[0]  # a real word, so only the count is wrong
    n = len(words)
    responses = {
        "json_list": json.dumps({"solutions": [*words, extra]}),
        "json_numbered": json.dumps({"solutions": {**{str(i + 1): w for i, w in enumerate(words)}, str(n + 1): extra}}),
        "json_unnumbered_key": json.dumps({"solutions": {**{str(i + 1): w for i, w in enumerate(words)}, "x": extra}}),
        "comma": ", ".join([*words, extra]),
        "numbered": "\n".join(f"{i + 1}. {w}" for i, w in enumerate([*words, extra])),
        "numbered_repeat": "\n".join([*(f"{i + 1}. {w}" for i, w in enumerate(words)), f"1. {words[0]}"]),
        "lines_after": "\n".join([*words, extra]),
        "lines_before": "\n".join([extra, *words]),
    }
    for fmt, response in responses.items():
        outcome = SYLLO.grade(problem, response)
        assert not outcome.correct, fmt
    listed = SYLLO.grade(problem, responses["json_list"])
    assert f"{n + 1} answers for {n} clues" in listed.reason


def test_the_answer_must_end_the_response(puzzle):
    problem, words = puzzle
    assert SYLLO.grade(problem, problem.solution).correct
    assert SYLLO.grade(problem, "Here it is:\n```json\n" + problem.expected + "\n```").correct
    assert not SYLLO.grade(problem, problem.solution + "\nHope this helps!").correct
    numbered = "\n".join(f"{i + 1}. {w}" for i, w in enumerate(words))
    assert SYLLO.grade(problem, "My answers:\n" + numbered).correct
    assert not SYLLO.grade(problem, numbered + "\nThat was fun.").correct
