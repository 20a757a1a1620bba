import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_INFO: _ClassVar[Severity]
    SEVERITY_WARNING: _ClassVar[Severity]
    SEVERITY_ERROR: _ClassVar[Severity]

class ValidationLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VALIDATION_LEVEL_UNSPECIFIED: _ClassVar[ValidationLevel]
    VALIDATION_LEVEL_QUICK: _ClassVar[ValidationLevel]
    VALIDATION_LEVEL_STANDARD: _ClassVar[ValidationLevel]
    VALIDATION_LEVEL_DEEP: _ClassVar[ValidationLevel]
SEVERITY_UNSPECIFIED: Severity
SEVERITY_INFO: Severity
SEVERITY_WARNING: Severity
SEVERITY_ERROR: Severity
VALIDATION_LEVEL_UNSPECIFIED: ValidationLevel
VALIDATION_LEVEL_QUICK: ValidationLevel
VALIDATION_LEVEL_STANDARD: ValidationLevel
VALIDATION_LEVEL_DEEP: ValidationLevel

class ChatMessage(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class ValidationFinding(_message.Message):
    __slots__ = ("kind", "severity", "line", "field", "message")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    severity: Severity
    line: int
    field: str
    message: str
    def __init__(self, kind: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., line: _Optional[int] = ..., field: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class FindingCount(_message.Message):
    __slots__ = ("kind", "severity", "count")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    severity: Severity
    count: int
    def __init__(self, kind: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., count: _Optional[int] = ...) -> None: ...

class ValidationReport(_message.Message):
    __slots__ = ("accepted", "schema_id", "level", "rows", "bytes", "findings", "counts", "error_count", "warning_count", "stats", "create_time", "validator_version")
    class StatsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_COUNT_FIELD_NUMBER: _ClassVar[int]
    WARNING_COUNT_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    schema_id: str
    level: ValidationLevel
    rows: int
    bytes: int
    findings: _containers.RepeatedCompositeFieldContainer[ValidationFinding]
    counts: _containers.RepeatedCompositeFieldContainer[FindingCount]
    error_count: int
    warning_count: int
    stats: _containers.ScalarMap[str, float]
    create_time: _timestamp_pb2.Timestamp
    validator_version: str
    def __init__(self, accepted: _Optional[bool] = ..., schema_id: _Optional[str] = ..., level: _Optional[_Union[ValidationLevel, str]] = ..., rows: _Optional[int] = ..., bytes: _Optional[int] = ..., findings: _Optional[_Iterable[_Union[ValidationFinding, _Mapping]]] = ..., counts: _Optional[_Iterable[_Union[FindingCount, _Mapping]]] = ..., error_count: _Optional[int] = ..., warning_count: _Optional[int] = ..., stats: _Optional[_Mapping[str, float]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., validator_version: _Optional[str] = ...) -> None: ...

class MemoryUsage(_message.Message):
    __slots__ = ("allocated_bytes", "reserved_bytes", "peak_bytes", "device")
    ALLOCATED_BYTES_FIELD_NUMBER: _ClassVar[int]
    RESERVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    PEAK_BYTES_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    allocated_bytes: int
    reserved_bytes: int
    peak_bytes: int
    device: str
    def __init__(self, allocated_bytes: _Optional[int] = ..., reserved_bytes: _Optional[int] = ..., peak_bytes: _Optional[int] = ..., device: _Optional[str] = ...) -> None: ...
