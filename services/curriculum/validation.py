"""Dataset validation for quest intake: a JSONL byte stream in, a per-line report out.

Deny by default: a dataset without a known schema id (given, or named in its `.meta.json` sidecar) is rejected,
and so is a row with a top-level key its schema does not name (free-form data goes under `metadata`);
never coerced. Memory stays bounded whatever the input: the stream is cut into lines as it arrives and a line
longer than `max_line_bytes` is counted and skipped, not buffered.

Levels: QUICK (parse, schema, roles, non-empty), STANDARD (+ length statistics against max_length, line and
file size limits), DEEP (+ duplicates, answer leakage, repetition, degenerate content, mojibake and control
characters, turn order, prompt/response ratio). DEEP findings are warnings unless their share of rows exceeds
a configured threshold, which turns that kind into errors.
"""

from __future__ import annotations

import array
import hashlib
import json
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from services.kit.errors import InvalidArgument

# Names this validator in every report (data lineage): bump it when a rule changes what is accepted.
VALIDATOR_VERSION = "curriculum/validation@2"


class Level(IntEnum):
    QUICK = 1
    STANDARD = 2
    DEEP = 3


class Severity(IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3


SCHEMAS = ("chat_sft_v1", "completion_v1")
# Deny by default: the top-level keys each schema allows (`metadata` holds free-form data).
ALLOWED_KEYS = {"chat_sft_v1": ("messages", "metadata"), "completion_v1": ("text", "metadata")}
UTF8_BOM = b"\xef\xbb\xbf"
ROLES = ("system", "user", "assistant")
DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024 * 1024
# Kinds that DEEP reports; only these can be promoted to errors by a threshold.
DEEP_KINDS = ("duplicate", "answer_leakage", "repetition", "degenerate_content", "mojibake", "control_chars",
              "turn_order", "response_ratio")
_MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|â€|Â[\u00a0-\u00bf]|\ufffd")
# C0/C1 control characters other than tab, newline and carriage return (Unicode category Cc).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ALNUM = re.compile(r"[^\W_]")


@dataclass(frozen=True)
class ValidationOptions:
    schema_id: str = ""
    sidecar_json: str = ""
    level: Level = Level.STANDARD
    # Longest row allowed for training, in characters of content; 0 = no check.
    max_length: int = 0
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    findings_per_kind: int = 20
    # DEEP kind -> share of rows (0..1) above which that kind's findings count as errors.
    error_thresholds: Mapping[str, float] = field(default_factory=dict)
    file_name: str = ""

    def __post_init__(self) -> None:
        if self.max_length < 0:
            raise InvalidArgument("must be >= 0", field="max_length")
        if self.max_line_bytes <= 0:
            raise InvalidArgument("must be > 0", field="max_line_bytes")
        for kind, ratio in self.error_thresholds.items():
            if kind not in DEEP_KINDS:
                raise InvalidArgument(f"unknown kind {kind!r}; known: {', '.join(DEEP_KINDS)}",
                                      field="error_thresholds")
            if not 0.0 <= ratio <= 1.0:
                raise InvalidArgument(f"{kind}: must be within 0..1", field="error_thresholds")


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: Severity
    line: int  # 1-based; 0 = the whole file
    field: str
    message: str


@dataclass
class Report:
    accepted: bool
    schema_id: str
    level: Level
    rows: int
    bytes: int
    findings: list[Finding]
    counts: dict[tuple[str, Severity], int]
    error_count: int
    warning_count: int
    stats: dict[str, float]

    def first(self, kind: str) -> Finding | None:
        return next((f for f in self.findings if f.kind == kind), None)


def resolve_schema(schema_id: str, sidecar_json: str) -> tuple[str, Finding | None]:
    """The schema the data claims, or the finding that rejects it (unknown or missing: deny by default)."""
    if not schema_id and sidecar_json:
        try:
            sidecar = json.loads(sidecar_json)
        except ValueError as exc:
            return "", Finding("bad_sidecar", Severity.ERROR, 0, "sidecar_json", f"sidecar is not JSON: {exc}")
        if not isinstance(sidecar, dict):
            return "", Finding("bad_sidecar", Severity.ERROR, 0, "sidecar_json", "sidecar must be an object")
        schema_id = str(sidecar.get("schema_id") or sidecar.get("schema") or "")
    if not schema_id:
        return "", Finding("missing_schema", Severity.ERROR, 0, "schema_id",
                           "no schema id and no sidecar naming one; known schemas: " + ", ".join(SCHEMAS))
    if schema_id not in SCHEMAS:
        return schema_id, Finding("unknown_schema", Severity.ERROR, 0, "schema_id",
                                  f"unknown schema {schema_id!r}; known: {', '.join(SCHEMAS)}")
    return schema_id, None


class DatasetValidator:
    """Feed bytes in any chunking; `finish()` returns the report."""

    def __init__(self, options: ValidationOptions) -> None:
        self.options = options
        self.schema_id, rejection = resolve_schema(options.schema_id, options.sidecar_json)
        self._schema_ok = rejection is None
        self._findings: list[Finding] = []
        self._counts: Counter[tuple[str, Severity]] = Counter()
        self._buffer = bytearray()
        self._overflow = 0  # bytes of the current line dropped because it is too long
        self._line_no = 0
        self._rows = 0
        self._bytes = 0
        self._lengths = array.array("Q")  # 8 bytes a row: stats stay cheap on big files
        self._seen_rows: dict[bytes, int] = {}
        self._deep_rows: Counter[str] = Counter()
        self._finished = False
        # A file without a schema id is first looked at: one that is not JSONL text at all is reported as such.
        self._missing_schema = rejection if rejection is not None and rejection.kind == "missing_schema" else None
        if rejection:
            self._add(rejection)

    # ------------------------------------------------------------------ stream
    def feed(self, chunk: bytes) -> None:
        self._bytes += len(chunk)
        start = 0
        while True:
            newline = chunk.find(b"\n", start)
            piece = chunk[start:] if newline < 0 else chunk[start:newline]
            self._append(piece)
            if newline < 0:
                return
            self._end_line()
            start = newline + 1

    def feed_all(self, chunks: Iterable[bytes]) -> Report:
        for chunk in chunks:
            self.feed(chunk)
        return self.finish()

    def _append(self, piece: bytes) -> None:
        if self._overflow:
            self._overflow += len(piece)
        elif len(self._buffer) + len(piece) > self.options.max_line_bytes:
            self._overflow = len(self._buffer) + len(piece)
            self._buffer = bytearray()
        else:
            self._buffer += piece

    def _end_line(self) -> None:
        self._line_no += 1
        if self._overflow:
            self._rows += 1
            self._add(Finding("line_too_long", Severity.ERROR, self._line_no, "",
                              f"line is {self._overflow} bytes, over the {self.options.max_line_bytes}-byte limit"))
            self._overflow = 0
        else:
            self._check_line(bytes(self._buffer))
        self._buffer = bytearray()

    def finish(self) -> Report:
        if not self._finished:
            self._finished = True
            if self._buffer or self._overflow:
                self._end_line()  # last line without a trailing newline
            self._file_checks()
        return self._report()

    # ------------------------------------------------------------------ findings
    def _add(self, finding: Finding) -> None:
        key = (finding.kind, finding.severity)
        self._counts[key] += 1
        if self._counts[key] <= self.options.findings_per_kind:
            self._findings.append(finding)

    def _replace(self, old: Finding, new: Finding) -> None:
        self._findings = [new if f is old else f for f in self._findings]
        self._counts[(old.kind, old.severity)] -= 1
        if not self._counts[(old.kind, old.severity)]:
            del self._counts[(old.kind, old.severity)]
        self._counts[(new.kind, new.severity)] += 1

    def _deep(self, kind: str, line: int, field_path: str, message: str) -> None:
        self._deep_rows[kind] += 1
        self._add(Finding(kind, Severity.WARNING, line, field_path, message))

    # ------------------------------------------------------------------ per line
    def _check_line(self, raw: bytes) -> None:
        line = self._line_no
        if line == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM):]  # a UTF-8 byte order mark (Windows editors) is not content
        raw = raw.removesuffix(b"\r")  # CRLF line ends
        if not raw.strip():
            self._add(Finding("blank_line", Severity.WARNING, line, "", "blank line skipped"))
            return
        self._rows += 1
        if not self._schema_ok:
            if self._missing_schema is not None:
                self._check_first_line_is_json(raw, line)
            return
        row, finding = self._parse(raw, line)
        if finding is not None:
            self._add(finding)
            return
        if not isinstance(row, dict):
            self._add(Finding("not_object", Severity.ERROR, line, "",
                              f"a row must be a JSON object, got {type(row).__name__}"))
            return
        if self.schema_id == "chat_sft_v1":
            contents = self._check_chat(row, line)
        else:
            contents = self._check_completion(row, line)
        # A row without its schema's main key is reported as missing that key, not as a pile of unknown ones.
        required, *_ = ALLOWED_KEYS[self.schema_id]
        if required in row and self._unknown_keys(row, line):
            return
        if contents is None:
            return
        if self.options.level >= Level.STANDARD:
            length = sum(len(c) for _, c in contents)
            self._lengths.append(length)
            if self.options.max_length and length > self.options.max_length:
                self._add(Finding("exceeds_max_length", Severity.WARNING, line, "",
                                  f"{length} characters, over max_length {self.options.max_length}: "
                                  "training truncates it"))
        if self.options.level >= Level.DEEP:
            self._deep_checks(row, contents, line)

    @staticmethod
    def _parse(raw: bytes, line: int) -> tuple[Any, Finding | None]:
        """(the JSON value, None) or (None, the finding saying why the line is not JSON text)."""
        if b"\x00" in raw:
            return None, Finding("binary_data", Severity.ERROR, line, "",
                                 "not UTF-8 text: the line contains NUL bytes (a binary file?)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, Finding("encoding", Severity.ERROR, line, "",
                                 f"not UTF-8 text: invalid byte at offset {exc.start} ({exc.reason})")
        try:
            return json.loads(text), None
        except ValueError as exc:
            return None, Finding("json_parse", Severity.ERROR, line, "", f"not JSON at line {line}: {exc}")

    def _unknown_keys(self, row: dict[str, Any], line: int) -> bool:
        allowed = ALLOWED_KEYS[self.schema_id]
        unknown = [key for key in row if key not in allowed]
        for key in unknown:
            self._add(Finding("unknown_field", Severity.ERROR, line, str(key),
                              f"unknown top-level key {key!r}; {self.schema_id} allows {', '.join(allowed)} "
                              "(put free-form data under metadata)"))
        return bool(unknown)

    def _check_first_line_is_json(self, raw: bytes, line: int) -> None:
        """No schema was named: a first row that is not JSON text says more than "missing schema" would."""
        missing, self._missing_schema = self._missing_schema, None
        _, finding = self._parse(raw, line)
        if finding is not None and missing is not None:
            self._replace(missing, finding)

    def _check_chat(self, row: dict[str, Any], line: int) -> list[tuple[str, str]] | None:
        messages = row.get("messages")
        if messages is None:
            self._add(Finding("missing_field", Severity.ERROR, line, "messages", "chat_sft_v1 needs `messages`"))
            return None
        if not isinstance(messages, list) or not messages:
            self._add(Finding("bad_type", Severity.ERROR, line, "messages", "must be a non-empty list"))
            return None
        ok = True
        contents: list[tuple[str, str]] = []
        for i, message in enumerate(messages):
            path = f"messages[{i}]"
            if not isinstance(message, dict):
                self._add(Finding("bad_type", Severity.ERROR, line, path, "each message must be an object"))
                ok = False
                continue
            role, content = message.get("role"), message.get("content")
            if role not in ROLES:
                self._add(Finding("unknown_role", Severity.ERROR, line, f"{path}.role",
                                  f"role {role!r} is not one of {', '.join(ROLES)}"))
                ok = False
            if not isinstance(content, str):
                self._add(Finding("bad_type", Severity.ERROR, line, f"{path}.content", "must be a string"))
                ok = False
                continue
            if not content.strip():
                self._add(Finding("empty_content", Severity.ERROR, line, f"{path}.content", "is empty"))
                ok = False
            contents.append((str(role), content))
        if ok and not any(r == "assistant" for r, _ in contents):
            self._add(Finding("no_assistant", Severity.ERROR, line, "messages", "no assistant turn to learn from"))
            ok = False
        elif ok and contents[-1][0] != "assistant":
            self._add(Finding("last_not_assistant", Severity.ERROR, line, f"messages[{len(contents) - 1}].role",
                              "the last message must be an assistant turn"))
            ok = False
        if "metadata" in row and not isinstance(row["metadata"], dict):
            self._add(Finding("bad_type", Severity.ERROR, line, "metadata", "must be an object"))
            ok = False
        return contents if ok else None

    def _check_completion(self, row: dict[str, Any], line: int) -> list[tuple[str, str]] | None:
        text = row.get("text")
        if text is None:
            self._add(Finding("missing_field", Severity.ERROR, line, "text", "completion_v1 needs `text`"))
            return None
        if not isinstance(text, str):
            self._add(Finding("bad_type", Severity.ERROR, line, "text", "must be a string"))
            return None
        if not text.strip():
            self._add(Finding("empty_content", Severity.ERROR, line, "text", "is empty"))
            return None
        return [("assistant", text)]

    def _deep_checks(self, row: dict[str, Any], contents: list[tuple[str, str]], line: int) -> None:
        canonical = json.dumps([list(c) for c in contents], ensure_ascii=False).encode("utf-8")
        digest = hashlib.blake2b(canonical, digest_size=16).digest()
        if digest in self._seen_rows:
            self._deep("duplicate", line, "", f"same content as line {self._seen_rows[digest]}")
        else:
            self._seen_rows[digest] = line
        field_name = "messages[{}].content" if self.schema_id == "chat_sft_v1" else "text"
        for i, (_, content) in enumerate(contents):
            path = field_name.format(i)
            if _MOJIBAKE.search(content):
                self._deep("mojibake", line, path, "looks like mis-decoded text (e.g. 'Ã©', 'â€™', U+FFFD)")
            if _CONTROL.search(content):
                bad = sorted({f"U+{ord(ch):04X}" for ch in _CONTROL.findall(content)})
                self._deep("control_chars", line, path, "control characters " + ", ".join(bad[:5]))
            if not _ALNUM.search(content):
                self._deep("degenerate_content", line, path, "no letters or digits")
            words = content.split()
            if len(words) >= 20 and len(set(words)) / len(words) < 0.2:
                self._deep("repetition", line, path, f"{len(set(words))} distinct words in {len(words)}")
        if self.schema_id != "chat_sft_v1":
            return
        roles = [r for r, _ in contents]
        body = roles[1:] if roles[0] == "system" else roles
        expected = ["user", "assistant"] * (len(body) // 2 + 1)
        if "system" in body or body != expected[: len(body)]:
            self._deep("turn_order", line, "messages", "turns must be [system], user, assistant, user, …: got "
                       + ", ".join(roles))
        prompt = "\n".join(c for r, c in contents if r != "assistant")
        answers = [c for r, c in contents if r == "assistant"]
        final = answers[-1].strip()
        if len(final) >= 8 and final in prompt:
            self._deep("answer_leakage", line, f"messages[{len(contents) - 1}].content",
                       "the final answer appears verbatim in the prompt")
        response_chars = sum(len(a) for a in answers)
        if len(prompt) >= 200 and response_chars < 0.02 * len(prompt):
            self._deep("response_ratio", line, "messages",
                       f"response is {response_chars} chars for a {len(prompt)}-char prompt")
        elif response_chars >= 2000 and response_chars > 100 * max(len(prompt), 1):
            self._deep("response_ratio", line, "messages",
                       f"response is {response_chars} chars for a {len(prompt)}-char prompt")

    # ------------------------------------------------------------------ whole file
    def _file_checks(self) -> None:
        if self._schema_ok and self._rows == 0:
            self._add(Finding("empty_file", Severity.ERROR, 0, "", "no rows"))
        if self.options.level >= Level.STANDARD and self._bytes > self.options.max_file_bytes:
            self._add(Finding("file_too_large", Severity.ERROR, 0, "",
                              f"{self._bytes} bytes, over the {self.options.max_file_bytes}-byte limit"))
        for kind, limit in sorted(self.options.error_thresholds.items()):
            share = self._deep_rows[kind] / self._rows if self._rows else 0.0
            if self.options.level >= Level.DEEP and share > limit:
                self._add(Finding("threshold_exceeded", Severity.ERROR, 0, kind,
                                  f"{self._deep_rows[kind]} {kind} findings in {self._rows} rows "
                                  f"({share:.1%}) exceed the {limit:.1%} threshold"))

    def _report(self) -> Report:
        errors = sum(n for (_, sev), n in self._counts.items() if sev is Severity.ERROR)
        warnings = sum(n for (_, sev), n in self._counts.items() if sev is Severity.WARNING)
        stats: dict[str, float] = {"rows": float(self._rows), "lines": float(self._line_no)}
        if self._lengths:
            ordered = sorted(self._lengths)
            stats.update({
                "chars_min": float(ordered[0]), "chars_max": float(ordered[-1]),
                "chars_mean": float(statistics.fmean(ordered)),
                "chars_p50": float(ordered[len(ordered) // 2]),
                "chars_p95": float(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]),
            })
        return Report(errors == 0, self.schema_id, self.options.level, self._rows, self._bytes,
                      list(self._findings), dict(self._counts), errors, warnings, stats)


def validate_bytes(data: bytes, options: ValidationOptions, chunk_size: int = 1 << 20) -> Report:
    validator = DatasetValidator(options)
    for start in range(0, len(data), chunk_size):
        validator.feed(data[start:start + chunk_size])
    return validator.finish()


def validate_file(path, options: ValidationOptions, chunk_size: int = 1 << 20) -> Report:
    """Validate a file on disk in chunks (memory bounded by max_line_bytes + chunk_size)."""
    validator = DatasetValidator(options)
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            validator.feed(chunk)
    return validator.finish()
