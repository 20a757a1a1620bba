import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from realm.common.v1 import common_pb2 as _common_pb2
from realm.curriculum.v1 import passives_pb2 as _passives_pb2
from realm.curriculum.v1 import votes_pb2 as _votes_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Regime(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REGIME_UNSPECIFIED: _ClassVar[Regime]
    REGIME_EXHAUSTIVE: _ClassVar[Regime]
    REGIME_HELD_OUT: _ClassVar[Regime]

class EvaluationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVALUATION_STATE_UNSPECIFIED: _ClassVar[EvaluationState]
    EVALUATION_STATE_PENDING: _ClassVar[EvaluationState]
    EVALUATION_STATE_RUNNING: _ClassVar[EvaluationState]
    EVALUATION_STATE_SUCCEEDED: _ClassVar[EvaluationState]
    EVALUATION_STATE_FAILED: _ClassVar[EvaluationState]
    EVALUATION_STATE_SUPERSEDED: _ClassVar[EvaluationState]
REGIME_UNSPECIFIED: Regime
REGIME_EXHAUSTIVE: Regime
REGIME_HELD_OUT: Regime
EVALUATION_STATE_UNSPECIFIED: EvaluationState
EVALUATION_STATE_PENDING: EvaluationState
EVALUATION_STATE_RUNNING: EvaluationState
EVALUATION_STATE_SUCCEEDED: EvaluationState
EVALUATION_STATE_FAILED: EvaluationState
EVALUATION_STATE_SUPERSEDED: EvaluationState

class Level(_message.Message):
    __slots__ = ("number", "title", "description", "parameters", "pass_threshold", "regime", "problem_space_size")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    PASS_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    REGIME_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_SPACE_SIZE_FIELD_NUMBER: _ClassVar[int]
    number: int
    title: str
    description: str
    parameters: _containers.ScalarMap[str, str]
    pass_threshold: float
    regime: Regime
    problem_space_size: int
    def __init__(self, number: _Optional[int] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ..., pass_threshold: _Optional[float] = ..., regime: _Optional[_Union[Regime, str]] = ..., problem_space_size: _Optional[int] = ...) -> None: ...

class Skill(_message.Message):
    __slots__ = ("name", "display_name", "description", "levels", "generator_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    description: str
    levels: _containers.RepeatedCompositeFieldContainer[Level]
    generator_version: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., levels: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., generator_version: _Optional[str] = ...) -> None: ...

class Problem(_message.Message):
    __slots__ = ("id", "messages", "expected", "payload_json", "level")
    ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    id: str
    messages: _containers.RepeatedCompositeFieldContainer[_common_pb2.ChatMessage]
    expected: str
    payload_json: str
    level: int
    def __init__(self, id: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_common_pb2.ChatMessage, _Mapping]]] = ..., expected: _Optional[str] = ..., payload_json: _Optional[str] = ..., level: _Optional[int] = ...) -> None: ...

class TrainingRow(_message.Message):
    __slots__ = ("messages", "metadata_json")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[_common_pb2.ChatMessage]
    metadata_json: str
    def __init__(self, messages: _Optional[_Iterable[_Union[_common_pb2.ChatMessage, _Mapping]]] = ..., metadata_json: _Optional[str] = ...) -> None: ...

class StreamBatchRequest(_message.Message):
    __slots__ = ("skill", "level", "count", "seed", "mode", "chunk_rows", "review_share")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ROWS_FIELD_NUMBER: _ClassVar[int]
    REVIEW_SHARE_FIELD_NUMBER: _ClassVar[int]
    skill: str
    level: int
    count: int
    seed: int
    mode: str
    chunk_rows: int
    review_share: float
    def __init__(self, skill: _Optional[str] = ..., level: _Optional[int] = ..., count: _Optional[int] = ..., seed: _Optional[int] = ..., mode: _Optional[str] = ..., chunk_rows: _Optional[int] = ..., review_share: _Optional[float] = ...) -> None: ...

class StreamBatchResponse(_message.Message):
    __slots__ = ("rows", "jsonl", "sidecar_json")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    JSONL_FIELD_NUMBER: _ClassVar[int]
    SIDECAR_JSON_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[TrainingRow]
    jsonl: bytes
    sidecar_json: str
    def __init__(self, rows: _Optional[_Iterable[_Union[TrainingRow, _Mapping]]] = ..., jsonl: _Optional[bytes] = ..., sidecar_json: _Optional[str] = ...) -> None: ...

class BuildSparringRowsRequest(_message.Message):
    __slots__ = ("skill", "items")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    skill: str
    items: _containers.RepeatedCompositeFieldContainer[GradeItem]
    def __init__(self, skill: _Optional[str] = ..., items: _Optional[_Iterable[_Union[GradeItem, _Mapping]]] = ...) -> None: ...

class BuildSparringRowsResponse(_message.Message):
    __slots__ = ("rows", "jsonl", "wrong")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    JSONL_FIELD_NUMBER: _ClassVar[int]
    WRONG_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[TrainingRow]
    jsonl: bytes
    wrong: int
    def __init__(self, rows: _Optional[_Iterable[_Union[TrainingRow, _Mapping]]] = ..., jsonl: _Optional[bytes] = ..., wrong: _Optional[int] = ...) -> None: ...

class ListSkillsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSkillsResponse(_message.Message):
    __slots__ = ("skills", "next_page_token")
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    skills: _containers.RepeatedCompositeFieldContainer[Skill]
    next_page_token: str
    def __init__(self, skills: _Optional[_Iterable[_Union[Skill, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetSkillRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetSkillResponse(_message.Message):
    __slots__ = ("skill",)
    SKILL_FIELD_NUMBER: _ClassVar[int]
    skill: Skill
    def __init__(self, skill: _Optional[_Union[Skill, _Mapping]] = ...) -> None: ...

class GenerateBatchRequest(_message.Message):
    __slots__ = ("skill", "level", "count", "seed", "mode", "review_share")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    REVIEW_SHARE_FIELD_NUMBER: _ClassVar[int]
    skill: str
    level: int
    count: int
    seed: int
    mode: str
    review_share: float
    def __init__(self, skill: _Optional[str] = ..., level: _Optional[int] = ..., count: _Optional[int] = ..., seed: _Optional[int] = ..., mode: _Optional[str] = ..., review_share: _Optional[float] = ...) -> None: ...

class GenerateBatchResponse(_message.Message):
    __slots__ = ("rows", "jsonl", "sidecar_json")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    JSONL_FIELD_NUMBER: _ClassVar[int]
    SIDECAR_JSON_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[TrainingRow]
    jsonl: bytes
    sidecar_json: str
    def __init__(self, rows: _Optional[_Iterable[_Union[TrainingRow, _Mapping]]] = ..., jsonl: _Optional[bytes] = ..., sidecar_json: _Optional[str] = ...) -> None: ...

class GetEvalSetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class EvalSet(_message.Message):
    __slots__ = ("name", "skill", "level", "regime", "content_hash", "version", "problems")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SKILL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    REGIME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    skill: str
    level: int
    regime: Regime
    content_hash: str
    version: str
    problems: _containers.RepeatedCompositeFieldContainer[Problem]
    def __init__(self, name: _Optional[str] = ..., skill: _Optional[str] = ..., level: _Optional[int] = ..., regime: _Optional[_Union[Regime, str]] = ..., content_hash: _Optional[str] = ..., version: _Optional[str] = ..., problems: _Optional[_Iterable[_Union[Problem, _Mapping]]] = ...) -> None: ...

class GetEvalSetResponse(_message.Message):
    __slots__ = ("eval_set",)
    EVAL_SET_FIELD_NUMBER: _ClassVar[int]
    eval_set: EvalSet
    def __init__(self, eval_set: _Optional[_Union[EvalSet, _Mapping]] = ...) -> None: ...

class GradeItem(_message.Message):
    __slots__ = ("problem", "response")
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    problem: Problem
    response: str
    def __init__(self, problem: _Optional[_Union[Problem, _Mapping]] = ..., response: _Optional[str] = ...) -> None: ...

class GradeResult(_message.Message):
    __slots__ = ("problem_id", "correct", "partial_score", "parsed_answer", "reason")
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    CORRECT_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_SCORE_FIELD_NUMBER: _ClassVar[int]
    PARSED_ANSWER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    problem_id: str
    correct: bool
    partial_score: float
    parsed_answer: str
    reason: str
    def __init__(self, problem_id: _Optional[str] = ..., correct: _Optional[bool] = ..., partial_score: _Optional[float] = ..., parsed_answer: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GradeRequest(_message.Message):
    __slots__ = ("skill", "items")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    skill: str
    items: _containers.RepeatedCompositeFieldContainer[GradeItem]
    def __init__(self, skill: _Optional[str] = ..., items: _Optional[_Iterable[_Union[GradeItem, _Mapping]]] = ...) -> None: ...

class GradeResponse(_message.Message):
    __slots__ = ("results", "accuracy", "mean_partial_score")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    MEAN_PARTIAL_SCORE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[GradeResult]
    accuracy: float
    mean_partial_score: float
    def __init__(self, results: _Optional[_Iterable[_Union[GradeResult, _Mapping]]] = ..., accuracy: _Optional[float] = ..., mean_partial_score: _Optional[float] = ...) -> None: ...

class DatasetHeader(_message.Message):
    __slots__ = ("schema_id", "sidecar_json", "level", "max_length", "file_name", "error_thresholds", "max_line_bytes", "max_file_bytes", "findings_per_kind")
    class ErrorThresholdsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    SIDECAR_JSON_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    ERROR_THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    MAX_LINE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_FILE_BYTES_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_PER_KIND_FIELD_NUMBER: _ClassVar[int]
    schema_id: str
    sidecar_json: str
    level: _common_pb2.ValidationLevel
    max_length: int
    file_name: str
    error_thresholds: _containers.ScalarMap[str, float]
    max_line_bytes: int
    max_file_bytes: int
    findings_per_kind: int
    def __init__(self, schema_id: _Optional[str] = ..., sidecar_json: _Optional[str] = ..., level: _Optional[_Union[_common_pb2.ValidationLevel, str]] = ..., max_length: _Optional[int] = ..., file_name: _Optional[str] = ..., error_thresholds: _Optional[_Mapping[str, float]] = ..., max_line_bytes: _Optional[int] = ..., max_file_bytes: _Optional[int] = ..., findings_per_kind: _Optional[int] = ...) -> None: ...

class ValidateDatasetRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: DatasetHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[DatasetHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class ValidateDatasetResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: _common_pb2.ValidationReport
    def __init__(self, report: _Optional[_Union[_common_pb2.ValidationReport, _Mapping]] = ...) -> None: ...

class AccuracyPoint(_message.Message):
    __slots__ = ("level", "accuracy", "checkpoint", "global_step", "time", "flagged", "flag_reason")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_STEP_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_FIELD_NUMBER: _ClassVar[int]
    FLAG_REASON_FIELD_NUMBER: _ClassVar[int]
    level: int
    accuracy: float
    checkpoint: str
    global_step: int
    time: _timestamp_pb2.Timestamp
    flagged: bool
    flag_reason: str
    def __init__(self, level: _Optional[int] = ..., accuracy: _Optional[float] = ..., checkpoint: _Optional[str] = ..., global_step: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., flagged: _Optional[bool] = ..., flag_reason: _Optional[str] = ...) -> None: ...

class LevelChange(_message.Message):
    __slots__ = ("from_level", "to_level", "time", "checkpoint", "mean_accuracy")
    FROM_LEVEL_FIELD_NUMBER: _ClassVar[int]
    TO_LEVEL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    MEAN_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    from_level: int
    to_level: int
    time: _timestamp_pb2.Timestamp
    checkpoint: str
    mean_accuracy: float
    def __init__(self, from_level: _Optional[int] = ..., to_level: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., checkpoint: _Optional[str] = ..., mean_accuracy: _Optional[float] = ...) -> None: ...

class SkillProgress(_message.Message):
    __slots__ = ("skill", "mastered_level", "training_level", "training_level_overridden", "accuracy_history", "progression", "max_level", "enabled", "weight")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    MASTERED_LEVEL_FIELD_NUMBER: _ClassVar[int]
    TRAINING_LEVEL_FIELD_NUMBER: _ClassVar[int]
    TRAINING_LEVEL_OVERRIDDEN_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_HISTORY_FIELD_NUMBER: _ClassVar[int]
    PROGRESSION_FIELD_NUMBER: _ClassVar[int]
    MAX_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    skill: str
    mastered_level: int
    training_level: int
    training_level_overridden: bool
    accuracy_history: _containers.RepeatedCompositeFieldContainer[AccuracyPoint]
    progression: _containers.RepeatedCompositeFieldContainer[LevelChange]
    max_level: int
    enabled: bool
    weight: float
    def __init__(self, skill: _Optional[str] = ..., mastered_level: _Optional[int] = ..., training_level: _Optional[int] = ..., training_level_overridden: _Optional[bool] = ..., accuracy_history: _Optional[_Iterable[_Union[AccuracyPoint, _Mapping]]] = ..., progression: _Optional[_Iterable[_Union[LevelChange, _Mapping]]] = ..., max_level: _Optional[int] = ..., enabled: _Optional[bool] = ..., weight: _Optional[float] = ...) -> None: ...

class CampaignProgress(_message.Message):
    __slots__ = ("campaign", "skills", "preset")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    skills: _containers.RepeatedCompositeFieldContainer[SkillProgress]
    preset: str
    def __init__(self, campaign: _Optional[str] = ..., skills: _Optional[_Iterable[_Union[SkillProgress, _Mapping]]] = ..., preset: _Optional[str] = ...) -> None: ...

class GetCampaignProgressRequest(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    def __init__(self, campaign: _Optional[str] = ...) -> None: ...

class GetCampaignProgressResponse(_message.Message):
    __slots__ = ("progress",)
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    progress: CampaignProgress
    def __init__(self, progress: _Optional[_Union[CampaignProgress, _Mapping]] = ...) -> None: ...

class SkillSettings(_message.Message):
    __slots__ = ("skill", "enabled", "training_level_override", "weight")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    TRAINING_LEVEL_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    skill: str
    enabled: bool
    training_level_override: int
    weight: float
    def __init__(self, skill: _Optional[str] = ..., enabled: _Optional[bool] = ..., training_level_override: _Optional[int] = ..., weight: _Optional[float] = ...) -> None: ...

class ConfigureCampaignRequest(_message.Message):
    __slots__ = ("campaign", "skills", "preset")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    skills: _containers.RepeatedCompositeFieldContainer[SkillSettings]
    preset: str
    def __init__(self, campaign: _Optional[str] = ..., skills: _Optional[_Iterable[_Union[SkillSettings, _Mapping]]] = ..., preset: _Optional[str] = ...) -> None: ...

class ConfigureCampaignResponse(_message.Message):
    __slots__ = ("progress",)
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    progress: CampaignProgress
    def __init__(self, progress: _Optional[_Union[CampaignProgress, _Mapping]] = ...) -> None: ...

class RecordEvalRequest(_message.Message):
    __slots__ = ("campaign", "skill", "level", "accuracy", "checkpoint", "global_step", "training_loss")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    SKILL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_STEP_FIELD_NUMBER: _ClassVar[int]
    TRAINING_LOSS_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    skill: str
    level: int
    accuracy: float
    checkpoint: str
    global_step: int
    training_loss: float
    def __init__(self, campaign: _Optional[str] = ..., skill: _Optional[str] = ..., level: _Optional[int] = ..., accuracy: _Optional[float] = ..., checkpoint: _Optional[str] = ..., global_step: _Optional[int] = ..., training_loss: _Optional[float] = ...) -> None: ...

class RecordEvalResponse(_message.Message):
    __slots__ = ("progress", "leveled_up", "flagged", "flag_reason", "window_mean_accuracy")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    LEVELED_UP_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_FIELD_NUMBER: _ClassVar[int]
    FLAG_REASON_FIELD_NUMBER: _ClassVar[int]
    WINDOW_MEAN_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    progress: SkillProgress
    leveled_up: bool
    flagged: bool
    flag_reason: str
    window_mean_accuracy: float
    def __init__(self, progress: _Optional[_Union[SkillProgress, _Mapping]] = ..., leveled_up: _Optional[bool] = ..., flagged: _Optional[bool] = ..., flag_reason: _Optional[str] = ..., window_mean_accuracy: _Optional[float] = ...) -> None: ...

class PlanNextBatchRequest(_message.Message):
    __slots__ = ("campaign", "preset", "count")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    preset: str
    count: int
    def __init__(self, campaign: _Optional[str] = ..., preset: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class PlannedBatch(_message.Message):
    __slots__ = ("skill", "level", "count", "seed", "reason", "review_share")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVIEW_SHARE_FIELD_NUMBER: _ClassVar[int]
    skill: str
    level: int
    count: int
    seed: int
    reason: str
    review_share: float
    def __init__(self, skill: _Optional[str] = ..., level: _Optional[int] = ..., count: _Optional[int] = ..., seed: _Optional[int] = ..., reason: _Optional[str] = ..., review_share: _Optional[float] = ...) -> None: ...

class PlanNextBatchResponse(_message.Message):
    __slots__ = ("batches",)
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    batches: _containers.RepeatedCompositeFieldContainer[PlannedBatch]
    def __init__(self, batches: _Optional[_Iterable[_Union[PlannedBatch, _Mapping]]] = ...) -> None: ...

class SkillEvalResult(_message.Message):
    __slots__ = ("skill", "level", "accuracy", "correct", "total", "regime", "report_asset", "eval_set_hash", "mean_partial_score")
    SKILL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    CORRECT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    REGIME_FIELD_NUMBER: _ClassVar[int]
    REPORT_ASSET_FIELD_NUMBER: _ClassVar[int]
    EVAL_SET_HASH_FIELD_NUMBER: _ClassVar[int]
    MEAN_PARTIAL_SCORE_FIELD_NUMBER: _ClassVar[int]
    skill: str
    level: int
    accuracy: float
    correct: int
    total: int
    regime: Regime
    report_asset: str
    eval_set_hash: str
    mean_partial_score: float
    def __init__(self, skill: _Optional[str] = ..., level: _Optional[int] = ..., accuracy: _Optional[float] = ..., correct: _Optional[int] = ..., total: _Optional[int] = ..., regime: _Optional[_Union[Regime, str]] = ..., report_asset: _Optional[str] = ..., eval_set_hash: _Optional[str] = ..., mean_partial_score: _Optional[float] = ...) -> None: ...

class Evaluation(_message.Message):
    __slots__ = ("name", "campaign", "checkpoint", "state", "results", "error", "attempts", "problems_done", "problems_total", "create_time", "end_time", "full", "next_attempt_time", "superseded_by", "trigger", "sparring_quest", "start_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_DONE_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_BY_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    SPARRING_QUEST_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    campaign: str
    checkpoint: str
    state: EvaluationState
    results: _containers.RepeatedCompositeFieldContainer[SkillEvalResult]
    error: str
    attempts: int
    problems_done: int
    problems_total: int
    create_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    full: bool
    next_attempt_time: _timestamp_pb2.Timestamp
    superseded_by: str
    trigger: str
    sparring_quest: str
    start_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., campaign: _Optional[str] = ..., checkpoint: _Optional[str] = ..., state: _Optional[_Union[EvaluationState, str]] = ..., results: _Optional[_Iterable[_Union[SkillEvalResult, _Mapping]]] = ..., error: _Optional[str] = ..., attempts: _Optional[int] = ..., problems_done: _Optional[int] = ..., problems_total: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., full: _Optional[bool] = ..., next_attempt_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., superseded_by: _Optional[str] = ..., trigger: _Optional[str] = ..., sparring_quest: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EvaluateCheckpointRequest(_message.Message):
    __slots__ = ("campaign", "checkpoint", "skills", "full")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    checkpoint: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    full: bool
    def __init__(self, campaign: _Optional[str] = ..., checkpoint: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., full: _Optional[bool] = ...) -> None: ...

class EvaluateCheckpointResponse(_message.Message):
    __slots__ = ("evaluation",)
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    evaluation: Evaluation
    def __init__(self, evaluation: _Optional[_Union[Evaluation, _Mapping]] = ...) -> None: ...

class GetEvaluationRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetEvaluationResponse(_message.Message):
    __slots__ = ("evaluation",)
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    evaluation: Evaluation
    def __init__(self, evaluation: _Optional[_Union[Evaluation, _Mapping]] = ...) -> None: ...

class ListEvaluationsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "campaign")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    campaign: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., campaign: _Optional[str] = ...) -> None: ...

class ListEvaluationsResponse(_message.Message):
    __slots__ = ("evaluations", "next_page_token")
    EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    evaluations: _containers.RepeatedCompositeFieldContainer[Evaluation]
    next_page_token: str
    def __init__(self, evaluations: _Optional[_Iterable[_Union[Evaluation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchEvaluationRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class WatchEvaluationResponse(_message.Message):
    __slots__ = ("evaluation",)
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    evaluation: Evaluation
    def __init__(self, evaluation: _Optional[_Union[Evaluation, _Mapping]] = ...) -> None: ...
