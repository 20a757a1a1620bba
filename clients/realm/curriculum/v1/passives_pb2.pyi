import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SchedulePassivesRequest(_message.Message):
    __slots__ = ("campaign", "checkpoint", "base", "priority")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    checkpoint: str
    base: bool
    priority: int
    def __init__(self, campaign: _Optional[str] = ..., checkpoint: _Optional[str] = ..., base: _Optional[bool] = ..., priority: _Optional[int] = ...) -> None: ...

class SchedulePassivesResponse(_message.Message):
    __slots__ = ("task", "sets")
    TASK_FIELD_NUMBER: _ClassVar[int]
    SETS_FIELD_NUMBER: _ClassVar[int]
    task: str
    sets: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task: _Optional[str] = ..., sets: _Optional[_Iterable[str]] = ...) -> None: ...

class PassiveResult(_message.Message):
    __slots__ = ("skill", "level", "checkpoint", "base", "accuracy", "correct", "total", "base_accuracy", "has_base", "delta", "regression", "eval_set_hash", "measure_time", "global_step")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    CORRECT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BASE_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    HAS_BASE_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    REGRESSION_FIELD_NUMBER: _ClassVar[int]
    EVAL_SET_HASH_FIELD_NUMBER: _ClassVar[int]
    MEASURE_TIME_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_STEP_FIELD_NUMBER: _ClassVar[int]
    skill: str
    level: int
    checkpoint: str
    base: bool
    accuracy: float
    correct: int
    total: int
    base_accuracy: float
    has_base: bool
    delta: float
    regression: bool
    eval_set_hash: str
    measure_time: _timestamp_pb2.Timestamp
    global_step: int
    def __init__(self, skill: _Optional[str] = ..., level: _Optional[int] = ..., checkpoint: _Optional[str] = ..., base: _Optional[bool] = ..., accuracy: _Optional[float] = ..., correct: _Optional[int] = ..., total: _Optional[int] = ..., base_accuracy: _Optional[float] = ..., has_base: _Optional[bool] = ..., delta: _Optional[float] = ..., regression: _Optional[bool] = ..., eval_set_hash: _Optional[str] = ..., measure_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., global_step: _Optional[int] = ...) -> None: ...

class PassiveSkillSummary(_message.Message):
    __slots__ = ("skill", "checkpoint", "mean_delta", "regression", "levels")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    MEAN_DELTA_FIELD_NUMBER: _ClassVar[int]
    REGRESSION_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    skill: str
    checkpoint: str
    mean_delta: float
    regression: bool
    levels: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, skill: _Optional[str] = ..., checkpoint: _Optional[str] = ..., mean_delta: _Optional[float] = ..., regression: _Optional[bool] = ..., levels: _Optional[_Iterable[int]] = ...) -> None: ...

class GetPassivesReportRequest(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    def __init__(self, campaign: _Optional[str] = ...) -> None: ...

class GetPassivesReportResponse(_message.Message):
    __slots__ = ("campaign", "base_model", "sets", "results", "skills", "regression_threshold")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    SETS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    REGRESSION_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    base_model: str
    sets: _containers.RepeatedScalarFieldContainer[str]
    results: _containers.RepeatedCompositeFieldContainer[PassiveResult]
    skills: _containers.RepeatedCompositeFieldContainer[PassiveSkillSummary]
    regression_threshold: float
    def __init__(self, campaign: _Optional[str] = ..., base_model: _Optional[str] = ..., sets: _Optional[_Iterable[str]] = ..., results: _Optional[_Iterable[_Union[PassiveResult, _Mapping]]] = ..., skills: _Optional[_Iterable[_Union[PassiveSkillSummary, _Mapping]]] = ..., regression_threshold: _Optional[float] = ...) -> None: ...
