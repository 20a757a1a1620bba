"""Dataset validation over a corpus of bad files: each yields the right error kind, line and field."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from services.curriculum.validation import (
    DatasetValidator,
    Level,
    Severity,
    ValidationOptions,
    validate_bytes,
    validate_file,
)
from services.kit.errors import InvalidArgument


def chat(*turns: tuple[str, str], **extra) -> str:
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in turns], **extra})


GOOD = chat(("user", "add(①⓪, ①①)"), ("assistant", "add(①⓪, ①①) = ①⓪①"))
GOOD2 = chat(("system", "You are exact."), ("user", "What is 2+2?"), ("assistant", "4"))

CHAT = ValidationOptions(schema_id="chat_sft_v1", level=Level.QUICK)

# file name -> (lines, expected kind, line number, field)
BAD_FILES = {
    "truncated_json": ([GOOD, GOOD[:-7]], "json_parse", 2, ""),
    "wrong_role": ([GOOD, GOOD, chat(("user", "hi"), ("bot", "hello"))], "unknown_role", 3, "messages[1].role"),
    "no_assistant": ([chat(("system", "s"), ("user", "u"))], "no_assistant", 1, "messages"),
    "ends_with_user": ([GOOD, chat(("user", "u"), ("assistant", "a"), ("user", "again"))],
                       "last_not_assistant", 2, "messages[2].role"),
    "empty_content": ([chat(("user", "u"), ("assistant", "  "))], "empty_content", 1, "messages[1].content"),
    "missing_messages": ([json.dumps({"text": "hello"})], "missing_field", 1, "messages"),
    "not_object": ([GOOD, "[1, 2]"], "not_object", 2, ""),
    "content_not_string": ([chat(("user", "u"), ("assistant", "a")).replace('"a"', "7")], "bad_type", 1,
                           "messages[1].content"),
    "binary_garbage": ([GOOD, "\x00\x01\x02garbage"], "binary_data", 2, ""),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_yields_the_right_error_and_line(name, tmp_path):
    lines, kind, line, field = BAD_FILES[name]
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = validate_file(path, CHAT)
    assert not report.accepted
    finding = report.first(kind)
    assert finding is not None, report.findings
    assert (finding.severity, finding.line, finding.field) == (Severity.ERROR, line, field)
    assert report.error_count == 1 and report.rows == len(lines)


def test_invalid_utf8_is_an_encoding_error():
    report = validate_bytes(GOOD.encode() + b"\n" + b'{"messages": "\xff\xfe"}\n', CHAT)
    assert report.first("encoding").line == 2 and not report.accepted


def test_random_binary_file_is_rejected_line_by_line():
    garbage = bytes((i * 131 + 7) % 256 for i in range(5000))
    report = validate_bytes(garbage, CHAT)
    assert not report.accepted and report.error_count == report.rows >= 1
    assert {k for k, _ in report.counts} <= {"binary_data", "encoding", "json_parse", "blank_line"}


def test_good_file_is_accepted_with_stats():
    data = "\n".join([GOOD, GOOD2] * 5).encode()  # no trailing newline: the last line still counts
    report = validate_bytes(data, ValidationOptions(schema_id="chat_sft_v1", level=Level.STANDARD), chunk_size=7)
    assert report.accepted and report.rows == 10 and report.bytes == len(data)
    assert report.stats["chars_min"] == len("You are exact.What is 2+2?4")
    assert report.stats["chars_max"] == len("add(①⓪, ①①)" "add(①⓪, ①①) = ①⓪①")


def test_unknown_or_missing_schema_is_denied():
    report = validate_bytes(GOOD.encode(), ValidationOptions(schema_id="sharegpt"))
    assert not report.accepted and report.first("unknown_schema").field == "schema_id"
    report = validate_bytes(GOOD.encode(), ValidationOptions())
    assert not report.accepted and "no schema id" in report.first("missing_schema").message
    # A sidecar naming the schema is enough; a sidecar without one is not.
    assert validate_bytes(GOOD.encode(), ValidationOptions(sidecar_json='{"schema_id": "chat_sft_v1"}')).accepted
    assert not validate_bytes(GOOD.encode(), ValidationOptions(sidecar_json='{"generator": "x"}')).accepted
    assert validate_bytes(GOOD.encode(), ValidationOptions(sidecar_json="{oops")).first("bad_sidecar")


def test_completion_schema():
    opts = ValidationOptions(schema_id="completion_v1")
    assert validate_bytes(b'{"text": "hello world"}\n', opts).accepted
    report = validate_bytes(b'{"text": ""}\n{"prompt": "x"}\n', opts)
    assert [(f.kind, f.line) for f in report.findings] == [("empty_content", 1), ("missing_field", 2)]


def test_empty_file_is_rejected():
    assert validate_bytes(b"", CHAT).first("empty_file")
    assert validate_bytes(b"\n\n", CHAT).first("empty_file")


def test_200_mb_line_is_counted_not_buffered():
    validator = DatasetValidator(ValidationOptions(schema_id="chat_sft_v1", max_line_bytes=1 << 20))
    block = b"a" * (1 << 20)
    tracemalloc.start()
    validator.feed(GOOD.encode() + b"\n" + b'{"messages": "')
    for _ in range(200):
        validator.feed(block)
    validator.feed(b'"}\n' + GOOD.encode() + b"\n")
    report = validator.finish()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 16 * (1 << 20), f"peak {peak} bytes: the long line was buffered"
    finding = report.first("line_too_long")
    assert finding.line == 2 and str(200 * (1 << 20) + 16) in finding.message
    assert report.rows == 3 and report.error_count == 1


def test_findings_are_capped_per_kind_with_totals():
    data = "\n".join(["{broken"] * 100 + [GOOD]).encode()
    report = validate_bytes(data, ValidationOptions(schema_id="chat_sft_v1", findings_per_kind=5))
    assert len([f for f in report.findings if f.kind == "json_parse"]) == 5
    assert report.counts[("json_parse", Severity.ERROR)] == 100 == report.error_count
    assert [f.line for f in report.findings] == [1, 2, 3, 4, 5]


def test_standard_checks_length_and_file_size():
    opts = ValidationOptions(schema_id="chat_sft_v1", level=Level.STANDARD, max_length=10, max_file_bytes=100)
    report = validate_bytes(("\n".join([GOOD] * 3)).encode(), opts)
    assert report.counts[("exceeds_max_length", Severity.WARNING)] == 3
    assert report.first("file_too_large").line == 0 and not report.accepted
    quick = validate_bytes(("\n".join([GOOD] * 3)).encode(),
                           ValidationOptions(schema_id="chat_sft_v1", max_length=10, max_file_bytes=100,
                                             level=Level.QUICK))
    assert quick.accepted and not quick.findings


DEEP_CASES = {
    "duplicate": (chat(("user", "add(①⓪, ①①)"), ("assistant", "add(①⓪, ①①) = ①⓪①")), "", 2),
    "answer_leakage": (chat(("user", "Say: the answer is 42"), ("assistant", "the answer is 42")),
                       "messages[1].content", 2),
    "repetition": (chat(("user", "Tell me"), ("assistant", " ".join(["ok"] * 40))), "messages[1].content", 2),
    "degenerate_content": (chat(("user", "Tell me"), ("assistant", "?!... ---")), "messages[1].content", 2),
    "mojibake": (chat(("user", "Tell me"), ("assistant", "cafÃ© itâ€™s")), "messages[1].content", 2),
    "control_chars": (chat(("user", "Tell\x07 me"), ("assistant", "fine")), "messages[0].content", 2),
    "turn_order": (chat(("user", "a"), ("user", "b"), ("assistant", "c")), "messages", 2),
    "response_ratio": (chat(("user", "x" * 500), ("assistant", "y")), "messages", 2),
}


@pytest.mark.parametrize("kind", sorted(DEEP_CASES))
def test_deep_findings_are_warnings(kind):
    line, field, line_no = DEEP_CASES[kind]
    data = f"{GOOD}\n{line}\n".encode()
    report = validate_bytes(data, ValidationOptions(schema_id="chat_sft_v1", level=Level.DEEP))
    finding = report.first(kind)
    assert finding is not None, report.findings
    assert (finding.severity, finding.line, finding.field) == (Severity.WARNING, line_no, field)
    assert report.accepted
    standard = validate_bytes(data, ValidationOptions(schema_id="chat_sft_v1", level=Level.STANDARD))
    assert standard.first(kind) is None


def test_threshold_turns_deep_warnings_into_errors():
    data = "\n".join([GOOD] * 10).encode()
    lenient = ValidationOptions(schema_id="chat_sft_v1", level=Level.DEEP, error_thresholds={"duplicate": 0.95})
    assert validate_bytes(data, lenient).accepted
    strict = ValidationOptions(schema_id="chat_sft_v1", level=Level.DEEP, error_thresholds={"duplicate": 0.5})
    report = validate_bytes(data, strict)
    assert not report.accepted and report.first("threshold_exceeded").field == "duplicate"
    with pytest.raises(InvalidArgument, match="error_thresholds"):
        ValidationOptions(error_thresholds={"nonsense": 0.1})
