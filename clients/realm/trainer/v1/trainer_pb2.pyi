import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from realm.common.v1 import common_pb2 as _common_pb2
from realm.trainer.v1 import campaign_setup_pb2 as _campaign_setup_pb2
from realm.trainer.v1 import config_check_pb2 as _config_check_pb2
from realm.trainer.v1 import hero_check_pb2 as _hero_check_pb2
from realm.trainer.v1 import lineage_pb2 as _lineage_pb2
from realm.trainer.v1 import loop_time_pb2 as _loop_time_pb2
from realm.trainer.v1 import quest_view_pb2 as _quest_view_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Priority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRIORITY_UNSPECIFIED: _ClassVar[Priority]
    PRIORITY_HIGH: _ClassVar[Priority]
    PRIORITY_NORMAL: _ClassVar[Priority]
    PRIORITY_LOW: _ClassVar[Priority]

class QuestState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUEST_STATE_UNSPECIFIED: _ClassVar[QuestState]
    QUEST_STATE_VALIDATING: _ClassVar[QuestState]
    QUEST_STATE_QUEUED: _ClassVar[QuestState]
    QUEST_STATE_RUNNING: _ClassVar[QuestState]
    QUEST_STATE_PAUSED: _ClassVar[QuestState]
    QUEST_STATE_COMPLETED: _ClassVar[QuestState]
    QUEST_STATE_FAILED: _ClassVar[QuestState]
    QUEST_STATE_SKIPPED: _ClassVar[QuestState]
    QUEST_STATE_REJECTED: _ClassVar[QuestState]

class CampaignState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAMPAIGN_STATE_UNSPECIFIED: _ClassVar[CampaignState]
    CAMPAIGN_STATE_DRAFT: _ClassVar[CampaignState]
    CAMPAIGN_STATE_ACTIVE: _ClassVar[CampaignState]
    CAMPAIGN_STATE_ARCHIVED: _ClassVar[CampaignState]

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATE_UNSPECIFIED: _ClassVar[RunState]
    RUN_STATE_IDLE: _ClassVar[RunState]
    RUN_STATE_STARTING: _ClassVar[RunState]
    RUN_STATE_TRAINING: _ClassVar[RunState]
    RUN_STATE_CHECKPOINTING: _ClassVar[RunState]
    RUN_STATE_PAUSING: _ClassVar[RunState]
    RUN_STATE_PAUSED: _ClassVar[RunState]
    RUN_STATE_STOPPING: _ClassVar[RunState]
    RUN_STATE_STOPPED: _ClassVar[RunState]

class Precision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRECISION_UNSPECIFIED: _ClassVar[Precision]
    PRECISION_FP32: _ClassVar[Precision]
    PRECISION_BF16: _ClassVar[Precision]
    PRECISION_FP16: _ClassVar[Precision]
    PRECISION_INT8: _ClassVar[Precision]
    PRECISION_NF4: _ClassVar[Precision]

class OptimizerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPTIMIZER_KIND_UNSPECIFIED: _ClassVar[OptimizerKind]
    OPTIMIZER_KIND_ADAMW: _ClassVar[OptimizerKind]
    OPTIMIZER_KIND_ADAMW_8BIT: _ClassVar[OptimizerKind]
    OPTIMIZER_KIND_PAGED_ADAMW_8BIT: _ClassVar[OptimizerKind]
    OPTIMIZER_KIND_MUON: _ClassVar[OptimizerKind]
    OPTIMIZER_KIND_SGD: _ClassVar[OptimizerKind]

class EventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_KIND_UNSPECIFIED: _ClassVar[EventKind]
    EVENT_KIND_STEP: _ClassVar[EventKind]
    EVENT_KIND_QUEST_STARTED: _ClassVar[EventKind]
    EVENT_KIND_QUEST_COMPLETED: _ClassVar[EventKind]
    EVENT_KIND_QUEST_FAILED: _ClassVar[EventKind]
    EVENT_KIND_QUEST_SKIPPED: _ClassVar[EventKind]
    EVENT_KIND_QUEST_QUEUED: _ClassVar[EventKind]
    EVENT_KIND_QUEST_REJECTED: _ClassVar[EventKind]
    EVENT_KIND_CHECKPOINT_SAVED: _ClassVar[EventKind]
    EVENT_KIND_CHECKPOINT_REGISTERED: _ClassVar[EventKind]
    EVENT_KIND_RUN_STATE_CHANGED: _ClassVar[EventKind]
    EVENT_KIND_LEVEL_UP: _ClassVar[EventKind]
    EVENT_KIND_WORKER_RESTARTED: _ClassVar[EventKind]

class SmoothingKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SMOOTHING_KIND_UNSPECIFIED: _ClassVar[SmoothingKind]
    SMOOTHING_KIND_NONE: _ClassVar[SmoothingKind]
    SMOOTHING_KIND_EMA: _ClassVar[SmoothingKind]
PRIORITY_UNSPECIFIED: Priority
PRIORITY_HIGH: Priority
PRIORITY_NORMAL: Priority
PRIORITY_LOW: Priority
QUEST_STATE_UNSPECIFIED: QuestState
QUEST_STATE_VALIDATING: QuestState
QUEST_STATE_QUEUED: QuestState
QUEST_STATE_RUNNING: QuestState
QUEST_STATE_PAUSED: QuestState
QUEST_STATE_COMPLETED: QuestState
QUEST_STATE_FAILED: QuestState
QUEST_STATE_SKIPPED: QuestState
QUEST_STATE_REJECTED: QuestState
CAMPAIGN_STATE_UNSPECIFIED: CampaignState
CAMPAIGN_STATE_DRAFT: CampaignState
CAMPAIGN_STATE_ACTIVE: CampaignState
CAMPAIGN_STATE_ARCHIVED: CampaignState
RUN_STATE_UNSPECIFIED: RunState
RUN_STATE_IDLE: RunState
RUN_STATE_STARTING: RunState
RUN_STATE_TRAINING: RunState
RUN_STATE_CHECKPOINTING: RunState
RUN_STATE_PAUSING: RunState
RUN_STATE_PAUSED: RunState
RUN_STATE_STOPPING: RunState
RUN_STATE_STOPPED: RunState
PRECISION_UNSPECIFIED: Precision
PRECISION_FP32: Precision
PRECISION_BF16: Precision
PRECISION_FP16: Precision
PRECISION_INT8: Precision
PRECISION_NF4: Precision
OPTIMIZER_KIND_UNSPECIFIED: OptimizerKind
OPTIMIZER_KIND_ADAMW: OptimizerKind
OPTIMIZER_KIND_ADAMW_8BIT: OptimizerKind
OPTIMIZER_KIND_PAGED_ADAMW_8BIT: OptimizerKind
OPTIMIZER_KIND_MUON: OptimizerKind
OPTIMIZER_KIND_SGD: OptimizerKind
EVENT_KIND_UNSPECIFIED: EventKind
EVENT_KIND_STEP: EventKind
EVENT_KIND_QUEST_STARTED: EventKind
EVENT_KIND_QUEST_COMPLETED: EventKind
EVENT_KIND_QUEST_FAILED: EventKind
EVENT_KIND_QUEST_SKIPPED: EventKind
EVENT_KIND_QUEST_QUEUED: EventKind
EVENT_KIND_QUEST_REJECTED: EventKind
EVENT_KIND_CHECKPOINT_SAVED: EventKind
EVENT_KIND_CHECKPOINT_REGISTERED: EventKind
EVENT_KIND_RUN_STATE_CHANGED: EventKind
EVENT_KIND_LEVEL_UP: EventKind
EVENT_KIND_WORKER_RESTARTED: EventKind
SMOOTHING_KIND_UNSPECIFIED: SmoothingKind
SMOOTHING_KIND_NONE: SmoothingKind
SMOOTHING_KIND_EMA: SmoothingKind

class LoraSettings(_message.Message):
    __slots__ = ("enabled", "rank", "alpha", "dropout", "target_modules", "quantize_base_4bit")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    DROPOUT_FIELD_NUMBER: _ClassVar[int]
    TARGET_MODULES_FIELD_NUMBER: _ClassVar[int]
    QUANTIZE_BASE_4BIT_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    rank: int
    alpha: int
    dropout: float
    target_modules: _containers.RepeatedScalarFieldContainer[str]
    quantize_base_4bit: bool
    def __init__(self, enabled: _Optional[bool] = ..., rank: _Optional[int] = ..., alpha: _Optional[int] = ..., dropout: _Optional[float] = ..., target_modules: _Optional[_Iterable[str]] = ..., quantize_base_4bit: _Optional[bool] = ...) -> None: ...

class Hero(_message.Message):
    __slots__ = ("name", "display_name", "model_dir", "architecture", "parameter_count", "chat_template", "training_defaults", "lora", "idle_skills", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_DIR_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_COUNT_FIELD_NUMBER: _ClassVar[int]
    CHAT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    TRAINING_DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    LORA_FIELD_NUMBER: _ClassVar[int]
    IDLE_SKILLS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    model_dir: str
    architecture: str
    parameter_count: int
    chat_template: str
    training_defaults: _struct_pb2.Struct
    lora: LoraSettings
    idle_skills: _containers.RepeatedScalarFieldContainer[str]
    description: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., model_dir: _Optional[str] = ..., architecture: _Optional[str] = ..., parameter_count: _Optional[int] = ..., chat_template: _Optional[str] = ..., training_defaults: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., lora: _Optional[_Union[LoraSettings, _Mapping]] = ..., idle_skills: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ...) -> None: ...

class Milestone(_message.Message):
    __slots__ = ("title", "description", "reach_time", "global_step")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REACH_TIME_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_STEP_FIELD_NUMBER: _ClassVar[int]
    title: str
    description: str
    reach_time: _timestamp_pb2.Timestamp
    global_step: int
    def __init__(self, title: _Optional[str] = ..., description: _Optional[str] = ..., reach_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., global_step: _Optional[int] = ...) -> None: ...

class Campaign(_message.Message):
    __slots__ = ("name", "display_name", "hero", "state", "starting_checkpoint", "config_overrides", "skills", "milestones", "peak_metrics", "global_step", "trained_tokens", "create_time", "update_time", "mantra", "locked_fields", "lock_time", "forked_from")
    class PeakMetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    HERO_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STARTING_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    MILESTONES_FIELD_NUMBER: _ClassVar[int]
    PEAK_METRICS_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_STEP_FIELD_NUMBER: _ClassVar[int]
    TRAINED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    MANTRA_FIELD_NUMBER: _ClassVar[int]
    LOCKED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    LOCK_TIME_FIELD_NUMBER: _ClassVar[int]
    FORKED_FROM_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    hero: str
    state: CampaignState
    starting_checkpoint: str
    config_overrides: _struct_pb2.Struct
    skills: _containers.RepeatedScalarFieldContainer[str]
    milestones: _containers.RepeatedCompositeFieldContainer[Milestone]
    peak_metrics: _containers.ScalarMap[str, float]
    global_step: int
    trained_tokens: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    mantra: _campaign_setup_pb2.Mantra
    locked_fields: _containers.RepeatedCompositeFieldContainer[_campaign_setup_pb2.LockedField]
    lock_time: _timestamp_pb2.Timestamp
    forked_from: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., hero: _Optional[str] = ..., state: _Optional[_Union[CampaignState, str]] = ..., starting_checkpoint: _Optional[str] = ..., config_overrides: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., skills: _Optional[_Iterable[str]] = ..., milestones: _Optional[_Iterable[_Union[Milestone, _Mapping]]] = ..., peak_metrics: _Optional[_Mapping[str, float]] = ..., global_step: _Optional[int] = ..., trained_tokens: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., mantra: _Optional[_Union[_campaign_setup_pb2.Mantra, _Mapping]] = ..., locked_fields: _Optional[_Iterable[_Union[_campaign_setup_pb2.LockedField, _Mapping]]] = ..., lock_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., forked_from: _Optional[str] = ...) -> None: ...

class Quest(_message.Message):
    __slots__ = ("name", "display_name", "campaign", "priority", "state", "position", "dataset_asset", "schema_id", "rows", "bytes", "sha256", "validation", "state_reason", "source", "labels", "steps_done", "steps_total", "attempts", "create_time", "start_time", "end_time")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    DATASET_ASSET_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    STEPS_DONE_FIELD_NUMBER: _ClassVar[int]
    STEPS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    campaign: str
    priority: Priority
    state: QuestState
    position: int
    dataset_asset: str
    schema_id: str
    rows: int
    bytes: int
    sha256: str
    validation: _common_pb2.ValidationReport
    state_reason: str
    source: str
    labels: _containers.ScalarMap[str, str]
    steps_done: int
    steps_total: int
    attempts: int
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., campaign: _Optional[str] = ..., priority: _Optional[_Union[Priority, str]] = ..., state: _Optional[_Union[QuestState, str]] = ..., position: _Optional[int] = ..., dataset_asset: _Optional[str] = ..., schema_id: _Optional[str] = ..., rows: _Optional[int] = ..., bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., validation: _Optional[_Union[_common_pb2.ValidationReport, _Mapping]] = ..., state_reason: _Optional[str] = ..., source: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., steps_done: _Optional[int] = ..., steps_total: _Optional[int] = ..., attempts: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListHeroesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListHeroesResponse(_message.Message):
    __slots__ = ("heroes", "next_page_token")
    HEROES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    heroes: _containers.RepeatedCompositeFieldContainer[Hero]
    next_page_token: str
    def __init__(self, heroes: _Optional[_Iterable[_Union[Hero, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetHeroRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetHeroResponse(_message.Message):
    __slots__ = ("hero",)
    HERO_FIELD_NUMBER: _ClassVar[int]
    hero: Hero
    def __init__(self, hero: _Optional[_Union[Hero, _Mapping]] = ...) -> None: ...

class GetHeroProgressRequest(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    def __init__(self, campaign: _Optional[str] = ...) -> None: ...

class HeroProgress(_message.Message):
    __slots__ = ("campaign", "level", "xp", "xp_for_next_level", "xp_definition", "global_step", "trained_tokens", "quests_completed")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    XP_FIELD_NUMBER: _ClassVar[int]
    XP_FOR_NEXT_LEVEL_FIELD_NUMBER: _ClassVar[int]
    XP_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_STEP_FIELD_NUMBER: _ClassVar[int]
    TRAINED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    QUESTS_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    level: int
    xp: int
    xp_for_next_level: int
    xp_definition: str
    global_step: int
    trained_tokens: int
    quests_completed: int
    def __init__(self, campaign: _Optional[str] = ..., level: _Optional[int] = ..., xp: _Optional[int] = ..., xp_for_next_level: _Optional[int] = ..., xp_definition: _Optional[str] = ..., global_step: _Optional[int] = ..., trained_tokens: _Optional[int] = ..., quests_completed: _Optional[int] = ...) -> None: ...

class GetHeroProgressResponse(_message.Message):
    __slots__ = ("progress",)
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    progress: HeroProgress
    def __init__(self, progress: _Optional[_Union[HeroProgress, _Mapping]] = ...) -> None: ...

class CreateCampaignRequest(_message.Message):
    __slots__ = ("campaign", "campaign_id")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    campaign_id: str
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ..., campaign_id: _Optional[str] = ...) -> None: ...

class CreateCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class GetCampaignRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class ListCampaignsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "hero", "state")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    HERO_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    hero: str
    state: CampaignState
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., hero: _Optional[str] = ..., state: _Optional[_Union[CampaignState, str]] = ...) -> None: ...

class ListCampaignsResponse(_message.Message):
    __slots__ = ("campaigns", "next_page_token")
    CAMPAIGNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    campaigns: _containers.RepeatedCompositeFieldContainer[Campaign]
    next_page_token: str
    def __init__(self, campaigns: _Optional[_Iterable[_Union[Campaign, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateCampaignRequest(_message.Message):
    __slots__ = ("campaign", "update_mask")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class ActivateCampaignRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ActivateCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class ArchiveCampaignRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ArchiveCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class ForkCampaignRequest(_message.Message):
    __slots__ = ("checkpoint", "campaign_id", "display_name", "hero", "config_overrides")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    HERO_FIELD_NUMBER: _ClassVar[int]
    CONFIG_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    checkpoint: str
    campaign_id: str
    display_name: str
    hero: str
    config_overrides: _struct_pb2.Struct
    def __init__(self, checkpoint: _Optional[str] = ..., campaign_id: _Optional[str] = ..., display_name: _Optional[str] = ..., hero: _Optional[str] = ..., config_overrides: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ForkCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class QuestHeader(_message.Message):
    __slots__ = ("campaign", "display_name", "priority", "schema_id", "sidecar_json", "labels", "source")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    SIDECAR_JSON_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    display_name: str
    priority: Priority
    schema_id: str
    sidecar_json: str
    labels: _containers.ScalarMap[str, str]
    source: str
    def __init__(self, campaign: _Optional[str] = ..., display_name: _Optional[str] = ..., priority: _Optional[_Union[Priority, str]] = ..., schema_id: _Optional[str] = ..., sidecar_json: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., source: _Optional[str] = ...) -> None: ...

class SubmitQuestRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: QuestHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[QuestHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class SubmitQuestResponse(_message.Message):
    __slots__ = ("quest",)
    QUEST_FIELD_NUMBER: _ClassVar[int]
    quest: Quest
    def __init__(self, quest: _Optional[_Union[Quest, _Mapping]] = ...) -> None: ...

class ImportQuestRequest(_message.Message):
    __slots__ = ("header", "dataset_asset")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATASET_ASSET_FIELD_NUMBER: _ClassVar[int]
    header: QuestHeader
    dataset_asset: str
    def __init__(self, header: _Optional[_Union[QuestHeader, _Mapping]] = ..., dataset_asset: _Optional[str] = ...) -> None: ...

class ImportQuestResponse(_message.Message):
    __slots__ = ("quest",)
    QUEST_FIELD_NUMBER: _ClassVar[int]
    quest: Quest
    def __init__(self, quest: _Optional[_Union[Quest, _Mapping]] = ...) -> None: ...

class GetQuestRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetQuestResponse(_message.Message):
    __slots__ = ("quest",)
    QUEST_FIELD_NUMBER: _ClassVar[int]
    quest: Quest
    def __init__(self, quest: _Optional[_Union[Quest, _Mapping]] = ...) -> None: ...

class ListQuestsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "campaign", "states")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    campaign: str
    states: _containers.RepeatedScalarFieldContainer[QuestState]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., campaign: _Optional[str] = ..., states: _Optional[_Iterable[_Union[QuestState, str]]] = ...) -> None: ...

class ListQuestsResponse(_message.Message):
    __slots__ = ("quests", "next_page_token")
    QUESTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    quests: _containers.RepeatedCompositeFieldContainer[Quest]
    next_page_token: str
    def __init__(self, quests: _Optional[_Iterable[_Union[Quest, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateQuestRequest(_message.Message):
    __slots__ = ("quest", "update_mask")
    QUEST_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    quest: Quest
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, quest: _Optional[_Union[Quest, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateQuestResponse(_message.Message):
    __slots__ = ("quest",)
    QUEST_FIELD_NUMBER: _ClassVar[int]
    quest: Quest
    def __init__(self, quest: _Optional[_Union[Quest, _Mapping]] = ...) -> None: ...

class MoveQuestRequest(_message.Message):
    __slots__ = ("name", "before_quest", "after_quest")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BEFORE_QUEST_FIELD_NUMBER: _ClassVar[int]
    AFTER_QUEST_FIELD_NUMBER: _ClassVar[int]
    name: str
    before_quest: str
    after_quest: str
    def __init__(self, name: _Optional[str] = ..., before_quest: _Optional[str] = ..., after_quest: _Optional[str] = ...) -> None: ...

class MoveQuestResponse(_message.Message):
    __slots__ = ("quest",)
    QUEST_FIELD_NUMBER: _ClassVar[int]
    quest: Quest
    def __init__(self, quest: _Optional[_Union[Quest, _Mapping]] = ...) -> None: ...

class DeleteQuestRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteQuestResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RetryQuestRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RetryQuestResponse(_message.Message):
    __slots__ = ("quest",)
    QUEST_FIELD_NUMBER: _ClassVar[int]
    quest: Quest
    def __init__(self, quest: _Optional[_Union[Quest, _Mapping]] = ...) -> None: ...

class PauseTrainingRequest(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class PauseTrainingResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: RunStatus
    def __init__(self, status: _Optional[_Union[RunStatus, _Mapping]] = ...) -> None: ...

class ResumeTrainingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResumeTrainingResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: RunStatus
    def __init__(self, status: _Optional[_Union[RunStatus, _Mapping]] = ...) -> None: ...

class StopTrainingRequest(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class StopTrainingResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: RunStatus
    def __init__(self, status: _Optional[_Union[RunStatus, _Mapping]] = ...) -> None: ...

class SkipQuestRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SkipQuestResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: RunStatus
    def __init__(self, status: _Optional[_Union[RunStatus, _Mapping]] = ...) -> None: ...

class StepMetrics(_message.Message):
    __slots__ = ("global_step", "quest_step", "quest_steps_total", "loss", "learning_rate", "grad_norm", "tokens_per_second", "trained_tokens", "eta_seconds", "memory", "epoch")
    GLOBAL_STEP_FIELD_NUMBER: _ClassVar[int]
    QUEST_STEP_FIELD_NUMBER: _ClassVar[int]
    QUEST_STEPS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    GRAD_NORM_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    TRAINED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    global_step: int
    quest_step: int
    quest_steps_total: int
    loss: float
    learning_rate: float
    grad_norm: float
    tokens_per_second: float
    trained_tokens: int
    eta_seconds: float
    memory: _common_pb2.MemoryUsage
    epoch: int
    def __init__(self, global_step: _Optional[int] = ..., quest_step: _Optional[int] = ..., quest_steps_total: _Optional[int] = ..., loss: _Optional[float] = ..., learning_rate: _Optional[float] = ..., grad_norm: _Optional[float] = ..., tokens_per_second: _Optional[float] = ..., trained_tokens: _Optional[int] = ..., eta_seconds: _Optional[float] = ..., memory: _Optional[_Union[_common_pb2.MemoryUsage, _Mapping]] = ..., epoch: _Optional[int] = ...) -> None: ...

class RunStatus(_message.Message):
    __slots__ = ("state", "campaign", "quest", "last_step", "last_checkpoint", "queued_quests", "worker_pid", "worker_restarts", "message", "update_time")
    STATE_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    QUEST_FIELD_NUMBER: _ClassVar[int]
    LAST_STEP_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    QUEUED_QUESTS_FIELD_NUMBER: _ClassVar[int]
    WORKER_PID_FIELD_NUMBER: _ClassVar[int]
    WORKER_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    state: RunState
    campaign: str
    quest: str
    last_step: StepMetrics
    last_checkpoint: str
    queued_quests: int
    worker_pid: int
    worker_restarts: int
    message: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, state: _Optional[_Union[RunState, str]] = ..., campaign: _Optional[str] = ..., quest: _Optional[str] = ..., last_step: _Optional[_Union[StepMetrics, _Mapping]] = ..., last_checkpoint: _Optional[str] = ..., queued_quests: _Optional[int] = ..., worker_pid: _Optional[int] = ..., worker_restarts: _Optional[int] = ..., message: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetRunStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRunStatusResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: RunStatus
    def __init__(self, status: _Optional[_Union[RunStatus, _Mapping]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("sequence", "kind", "time", "campaign", "quest", "step", "checkpoint", "run_state", "message", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    QUEST_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    RUN_STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    kind: EventKind
    time: _timestamp_pb2.Timestamp
    campaign: str
    quest: str
    step: StepMetrics
    checkpoint: str
    run_state: RunState
    message: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, sequence: _Optional[int] = ..., kind: _Optional[_Union[EventKind, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., campaign: _Optional[str] = ..., quest: _Optional[str] = ..., step: _Optional[_Union[StepMetrics, _Mapping]] = ..., checkpoint: _Optional[str] = ..., run_state: _Optional[_Union[RunState, str]] = ..., message: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("after_sequence", "history_only", "kinds", "from_now")
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_ONLY_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    FROM_NOW_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    history_only: bool
    kinds: _containers.RepeatedScalarFieldContainer[EventKind]
    from_now: bool
    def __init__(self, after_sequence: _Optional[int] = ..., history_only: _Optional[bool] = ..., kinds: _Optional[_Iterable[_Union[EventKind, str]]] = ..., from_now: _Optional[bool] = ...) -> None: ...

class StreamEventsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: Event
    def __init__(self, event: _Optional[_Union[Event, _Mapping]] = ...) -> None: ...

class EstimateMemoryRequest(_message.Message):
    __slots__ = ("hero", "parameter_count", "hidden_size", "num_layers", "vocab_size", "precision", "optimizer", "lora", "micro_batch_size", "sequence_length", "gradient_checkpointing", "num_attention_heads", "intermediate_size")
    HERO_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_COUNT_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_SIZE_FIELD_NUMBER: _ClassVar[int]
    NUM_LAYERS_FIELD_NUMBER: _ClassVar[int]
    VOCAB_SIZE_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    LORA_FIELD_NUMBER: _ClassVar[int]
    MICRO_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_CHECKPOINTING_FIELD_NUMBER: _ClassVar[int]
    NUM_ATTENTION_HEADS_FIELD_NUMBER: _ClassVar[int]
    INTERMEDIATE_SIZE_FIELD_NUMBER: _ClassVar[int]
    hero: str
    parameter_count: int
    hidden_size: int
    num_layers: int
    vocab_size: int
    precision: Precision
    optimizer: OptimizerKind
    lora: LoraSettings
    micro_batch_size: int
    sequence_length: int
    gradient_checkpointing: bool
    num_attention_heads: int
    intermediate_size: int
    def __init__(self, hero: _Optional[str] = ..., parameter_count: _Optional[int] = ..., hidden_size: _Optional[int] = ..., num_layers: _Optional[int] = ..., vocab_size: _Optional[int] = ..., precision: _Optional[_Union[Precision, str]] = ..., optimizer: _Optional[_Union[OptimizerKind, str]] = ..., lora: _Optional[_Union[LoraSettings, _Mapping]] = ..., micro_batch_size: _Optional[int] = ..., sequence_length: _Optional[int] = ..., gradient_checkpointing: _Optional[bool] = ..., num_attention_heads: _Optional[int] = ..., intermediate_size: _Optional[int] = ...) -> None: ...

class MemoryComponent(_message.Message):
    __slots__ = ("name", "bytes", "formula")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    FORMULA_FIELD_NUMBER: _ClassVar[int]
    name: str
    bytes: int
    formula: str
    def __init__(self, name: _Optional[str] = ..., bytes: _Optional[int] = ..., formula: _Optional[str] = ...) -> None: ...

class EstimateMemoryResponse(_message.Message):
    __slots__ = ("components", "total_bytes", "total_gib", "trainable_parameters")
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_GIB_FIELD_NUMBER: _ClassVar[int]
    TRAINABLE_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    components: _containers.RepeatedCompositeFieldContainer[MemoryComponent]
    total_bytes: int
    total_gib: float
    trainable_parameters: int
    def __init__(self, components: _Optional[_Iterable[_Union[MemoryComponent, _Mapping]]] = ..., total_bytes: _Optional[int] = ..., total_gib: _Optional[float] = ..., trainable_parameters: _Optional[int] = ...) -> None: ...

class GetMetricSeriesRequest(_message.Message):
    __slots__ = ("campaign", "metric", "start_step", "end_step", "max_points", "smoothing", "smoothing_weight")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    START_STEP_FIELD_NUMBER: _ClassVar[int]
    END_STEP_FIELD_NUMBER: _ClassVar[int]
    MAX_POINTS_FIELD_NUMBER: _ClassVar[int]
    SMOOTHING_FIELD_NUMBER: _ClassVar[int]
    SMOOTHING_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    metric: str
    start_step: int
    end_step: int
    max_points: int
    smoothing: SmoothingKind
    smoothing_weight: float
    def __init__(self, campaign: _Optional[str] = ..., metric: _Optional[str] = ..., start_step: _Optional[int] = ..., end_step: _Optional[int] = ..., max_points: _Optional[int] = ..., smoothing: _Optional[_Union[SmoothingKind, str]] = ..., smoothing_weight: _Optional[float] = ...) -> None: ...

class MetricBucket(_message.Message):
    __slots__ = ("first_step", "last_step", "count", "min", "max", "mean", "last", "smoothed")
    FIRST_STEP_FIELD_NUMBER: _ClassVar[int]
    LAST_STEP_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    SMOOTHED_FIELD_NUMBER: _ClassVar[int]
    first_step: int
    last_step: int
    count: int
    min: float
    max: float
    mean: float
    last: float
    smoothed: float
    def __init__(self, first_step: _Optional[int] = ..., last_step: _Optional[int] = ..., count: _Optional[int] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., mean: _Optional[float] = ..., last: _Optional[float] = ..., smoothed: _Optional[float] = ...) -> None: ...

class GetMetricSeriesResponse(_message.Message):
    __slots__ = ("campaign", "metric", "buckets", "bucket_steps", "points", "first_step", "last_step", "last_sequence", "smoothing", "smoothing_weight")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_STEPS_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_STEP_FIELD_NUMBER: _ClassVar[int]
    LAST_STEP_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SMOOTHING_FIELD_NUMBER: _ClassVar[int]
    SMOOTHING_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    metric: str
    buckets: _containers.RepeatedCompositeFieldContainer[MetricBucket]
    bucket_steps: int
    points: int
    first_step: int
    last_step: int
    last_sequence: int
    smoothing: SmoothingKind
    smoothing_weight: float
    def __init__(self, campaign: _Optional[str] = ..., metric: _Optional[str] = ..., buckets: _Optional[_Iterable[_Union[MetricBucket, _Mapping]]] = ..., bucket_steps: _Optional[int] = ..., points: _Optional[int] = ..., first_step: _Optional[int] = ..., last_step: _Optional[int] = ..., last_sequence: _Optional[int] = ..., smoothing: _Optional[_Union[SmoothingKind, str]] = ..., smoothing_weight: _Optional[float] = ...) -> None: ...
