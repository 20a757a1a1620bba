from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetQuestPreviewRequest(_message.Message):
    __slots__ = ("name", "rows")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    name: str
    rows: int
    def __init__(self, name: _Optional[str] = ..., rows: _Optional[int] = ...) -> None: ...

class QuestPreviewRow(_message.Message):
    __slots__ = ("line", "row", "text", "clipped")
    LINE_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CLIPPED_FIELD_NUMBER: _ClassVar[int]
    line: int
    row: _struct_pb2.Struct
    text: str
    clipped: bool
    def __init__(self, line: _Optional[int] = ..., row: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., text: _Optional[str] = ..., clipped: _Optional[bool] = ...) -> None: ...

class GetQuestPreviewResponse(_message.Message):
    __slots__ = ("quest", "rows", "total_rows", "truncated", "max_row_bytes", "max_total_bytes")
    QUEST_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ROWS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    MAX_ROW_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    quest: str
    rows: _containers.RepeatedCompositeFieldContainer[QuestPreviewRow]
    total_rows: int
    truncated: bool
    max_row_bytes: int
    max_total_bytes: int
    def __init__(self, quest: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[QuestPreviewRow, _Mapping]]] = ..., total_rows: _Optional[int] = ..., truncated: _Optional[bool] = ..., max_row_bytes: _Optional[int] = ..., max_total_bytes: _Optional[int] = ...) -> None: ...

class EstimateQuestQueueRequest(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    def __init__(self, campaign: _Optional[str] = ...) -> None: ...

class QuestEstimate(_message.Message):
    __slots__ = ("quest", "position", "steps", "tokens", "duration_seconds", "starts_in_seconds", "known", "basis")
    QUEST_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STARTS_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    KNOWN_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    quest: str
    position: int
    steps: int
    tokens: int
    duration_seconds: float
    starts_in_seconds: float
    known: bool
    basis: str
    def __init__(self, quest: _Optional[str] = ..., position: _Optional[int] = ..., steps: _Optional[int] = ..., tokens: _Optional[int] = ..., duration_seconds: _Optional[float] = ..., starts_in_seconds: _Optional[float] = ..., known: _Optional[bool] = ..., basis: _Optional[str] = ...) -> None: ...

class EstimateQuestQueueResponse(_message.Message):
    __slots__ = ("campaign", "quests", "tokens_per_second", "throughput_basis", "active")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    QUESTS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    THROUGHPUT_BASIS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    quests: _containers.RepeatedCompositeFieldContainer[QuestEstimate]
    tokens_per_second: float
    throughput_basis: str
    active: bool
    def __init__(self, campaign: _Optional[str] = ..., quests: _Optional[_Iterable[_Union[QuestEstimate, _Mapping]]] = ..., tokens_per_second: _Optional[float] = ..., throughput_basis: _Optional[str] = ..., active: _Optional[bool] = ...) -> None: ...
