from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckpointRef(_message.Message):
    __slots__ = ("asset", "global_step", "state")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_STEP_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    asset: str
    global_step: int
    state: str
    def __init__(self, asset: _Optional[str] = ..., global_step: _Optional[int] = ..., state: _Optional[str] = ...) -> None: ...

class QuestLineage(_message.Message):
    __slots__ = ("quest", "display_name", "state", "source", "generator", "generator_version", "validator_version", "schema_id", "rows", "bytes", "sha256", "dataset_asset", "checkpoints", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    QUEST_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    DATASET_ASSET_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    quest: str
    display_name: str
    state: str
    source: str
    generator: str
    generator_version: str
    validator_version: str
    schema_id: str
    rows: int
    bytes: int
    sha256: str
    dataset_asset: str
    checkpoints: _containers.RepeatedCompositeFieldContainer[CheckpointRef]
    labels: _containers.ScalarMap[str, str]
    def __init__(self, quest: _Optional[str] = ..., display_name: _Optional[str] = ..., state: _Optional[str] = ..., source: _Optional[str] = ..., generator: _Optional[str] = ..., generator_version: _Optional[str] = ..., validator_version: _Optional[str] = ..., schema_id: _Optional[str] = ..., rows: _Optional[int] = ..., bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., dataset_asset: _Optional[str] = ..., checkpoints: _Optional[_Iterable[_Union[CheckpointRef, _Mapping]]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GeneratorLineage(_message.Message):
    __slots__ = ("generator", "generator_version", "quests", "rows", "checkpoints", "validator_versions", "schema_ids")
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    QUESTS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_IDS_FIELD_NUMBER: _ClassVar[int]
    generator: str
    generator_version: str
    quests: int
    rows: int
    checkpoints: int
    validator_versions: _containers.RepeatedScalarFieldContainer[str]
    schema_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, generator: _Optional[str] = ..., generator_version: _Optional[str] = ..., quests: _Optional[int] = ..., rows: _Optional[int] = ..., checkpoints: _Optional[int] = ..., validator_versions: _Optional[_Iterable[str]] = ..., schema_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetCampaignLineageRequest(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    def __init__(self, campaign: _Optional[str] = ...) -> None: ...

class GetCampaignLineageResponse(_message.Message):
    __slots__ = ("campaign", "quests", "generators")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    QUESTS_FIELD_NUMBER: _ClassVar[int]
    GENERATORS_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    quests: _containers.RepeatedCompositeFieldContainer[QuestLineage]
    generators: _containers.RepeatedCompositeFieldContainer[GeneratorLineage]
    def __init__(self, campaign: _Optional[str] = ..., quests: _Optional[_Iterable[_Union[QuestLineage, _Mapping]]] = ..., generators: _Optional[_Iterable[_Union[GeneratorLineage, _Mapping]]] = ...) -> None: ...
