import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoopTime(_message.Message):
    __slots__ = ("campaign", "training_seconds", "worker_startup_seconds", "checkpoint_save_seconds", "waiting_for_data_seconds", "idle_seconds", "wall_seconds", "busy_share", "upload_seconds", "worker_starts", "worker_reuses", "since")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    TRAINING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WORKER_STARTUP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_SAVE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_DATA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    IDLE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BUSY_SHARE_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WORKER_STARTS_FIELD_NUMBER: _ClassVar[int]
    WORKER_REUSES_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    training_seconds: float
    worker_startup_seconds: float
    checkpoint_save_seconds: float
    waiting_for_data_seconds: float
    idle_seconds: float
    wall_seconds: float
    busy_share: float
    upload_seconds: float
    worker_starts: int
    worker_reuses: int
    since: _timestamp_pb2.Timestamp
    def __init__(self, campaign: _Optional[str] = ..., training_seconds: _Optional[float] = ..., worker_startup_seconds: _Optional[float] = ..., checkpoint_save_seconds: _Optional[float] = ..., waiting_for_data_seconds: _Optional[float] = ..., idle_seconds: _Optional[float] = ..., wall_seconds: _Optional[float] = ..., busy_share: _Optional[float] = ..., upload_seconds: _Optional[float] = ..., worker_starts: _Optional[int] = ..., worker_reuses: _Optional[int] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetLoopTimeRequest(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    def __init__(self, campaign: _Optional[str] = ...) -> None: ...

class GetLoopTimeResponse(_message.Message):
    __slots__ = ("loop_time",)
    LOOP_TIME_FIELD_NUMBER: _ClassVar[int]
    loop_time: LoopTime
    def __init__(self, loop_time: _Optional[_Union[LoopTime, _Mapping]] = ...) -> None: ...
