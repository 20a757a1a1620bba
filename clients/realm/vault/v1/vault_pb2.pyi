import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssetKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSET_KIND_UNSPECIFIED: _ClassVar[AssetKind]
    ASSET_KIND_CHECKPOINT: _ClassVar[AssetKind]
    ASSET_KIND_DATASET: _ClassVar[AssetKind]
    ASSET_KIND_EVAL_REPORT: _ClassVar[AssetKind]
    ASSET_KIND_BASE_MODEL: _ClassVar[AssetKind]
    ASSET_KIND_TOKENIZER: _ClassVar[AssetKind]
    ASSET_KIND_CONFIG: _ClassVar[AssetKind]

class AssetState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSET_STATE_UNSPECIFIED: _ClassVar[AssetState]
    ASSET_STATE_UPLOADING: _ClassVar[AssetState]
    ASSET_STATE_ACTIVE: _ClassVar[AssetState]
    ASSET_STATE_DELETING: _ClassVar[AssetState]
    ASSET_STATE_DELETED: _ClassVar[AssetState]
    ASSET_STATE_CORRUPT: _ClassVar[AssetState]

class MetricDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METRIC_DIRECTION_UNSPECIFIED: _ClassVar[MetricDirection]
    METRIC_DIRECTION_MAXIMIZE: _ClassVar[MetricDirection]
    METRIC_DIRECTION_MINIMIZE: _ClassVar[MetricDirection]

class LedgerEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEDGER_EVENT_KIND_UNSPECIFIED: _ClassVar[LedgerEventKind]
    LEDGER_EVENT_KIND_REGISTERED: _ClassVar[LedgerEventKind]
    LEDGER_EVENT_KIND_ALIAS_MOVED: _ClassVar[LedgerEventKind]
    LEDGER_EVENT_KIND_EVAL_ATTACHED: _ClassVar[LedgerEventKind]
    LEDGER_EVENT_KIND_PINNED: _ClassVar[LedgerEventKind]
    LEDGER_EVENT_KIND_UNPINNED: _ClassVar[LedgerEventKind]
    LEDGER_EVENT_KIND_DELETING: _ClassVar[LedgerEventKind]
    LEDGER_EVENT_KIND_DELETED: _ClassVar[LedgerEventKind]
    LEDGER_EVENT_KIND_CORRUPT: _ClassVar[LedgerEventKind]
    LEDGER_EVENT_KIND_VERIFIED: _ClassVar[LedgerEventKind]
    LEDGER_EVENT_KIND_ALIAS_DELETED: _ClassVar[LedgerEventKind]
    LEDGER_EVENT_KIND_LEVEL_UP: _ClassVar[LedgerEventKind]
    LEDGER_EVENT_KIND_NOTE: _ClassVar[LedgerEventKind]
ASSET_KIND_UNSPECIFIED: AssetKind
ASSET_KIND_CHECKPOINT: AssetKind
ASSET_KIND_DATASET: AssetKind
ASSET_KIND_EVAL_REPORT: AssetKind
ASSET_KIND_BASE_MODEL: AssetKind
ASSET_KIND_TOKENIZER: AssetKind
ASSET_KIND_CONFIG: AssetKind
ASSET_STATE_UNSPECIFIED: AssetState
ASSET_STATE_UPLOADING: AssetState
ASSET_STATE_ACTIVE: AssetState
ASSET_STATE_DELETING: AssetState
ASSET_STATE_DELETED: AssetState
ASSET_STATE_CORRUPT: AssetState
METRIC_DIRECTION_UNSPECIFIED: MetricDirection
METRIC_DIRECTION_MAXIMIZE: MetricDirection
METRIC_DIRECTION_MINIMIZE: MetricDirection
LEDGER_EVENT_KIND_UNSPECIFIED: LedgerEventKind
LEDGER_EVENT_KIND_REGISTERED: LedgerEventKind
LEDGER_EVENT_KIND_ALIAS_MOVED: LedgerEventKind
LEDGER_EVENT_KIND_EVAL_ATTACHED: LedgerEventKind
LEDGER_EVENT_KIND_PINNED: LedgerEventKind
LEDGER_EVENT_KIND_UNPINNED: LedgerEventKind
LEDGER_EVENT_KIND_DELETING: LedgerEventKind
LEDGER_EVENT_KIND_DELETED: LedgerEventKind
LEDGER_EVENT_KIND_CORRUPT: LedgerEventKind
LEDGER_EVENT_KIND_VERIFIED: LedgerEventKind
LEDGER_EVENT_KIND_ALIAS_DELETED: LedgerEventKind
LEDGER_EVENT_KIND_LEVEL_UP: LedgerEventKind
LEDGER_EVENT_KIND_NOTE: LedgerEventKind

class AssetFile(_message.Message):
    __slots__ = ("path", "size_bytes", "sha256")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    path: str
    size_bytes: int
    sha256: str
    def __init__(self, path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class Lineage(_message.Message):
    __slots__ = ("hero", "campaign", "source_assets", "parent_checkpoint", "global_step", "config_hash", "base_model_digest", "tokenizer_hash", "chat_template_hash", "metrics", "quest", "mantra_text", "mantra_rule", "mantra_version")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    HERO_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ASSETS_FIELD_NUMBER: _ClassVar[int]
    PARENT_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_STEP_FIELD_NUMBER: _ClassVar[int]
    CONFIG_HASH_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_DIGEST_FIELD_NUMBER: _ClassVar[int]
    TOKENIZER_HASH_FIELD_NUMBER: _ClassVar[int]
    CHAT_TEMPLATE_HASH_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    QUEST_FIELD_NUMBER: _ClassVar[int]
    MANTRA_TEXT_FIELD_NUMBER: _ClassVar[int]
    MANTRA_RULE_FIELD_NUMBER: _ClassVar[int]
    MANTRA_VERSION_FIELD_NUMBER: _ClassVar[int]
    hero: str
    campaign: str
    source_assets: _containers.RepeatedScalarFieldContainer[str]
    parent_checkpoint: str
    global_step: int
    config_hash: str
    base_model_digest: str
    tokenizer_hash: str
    chat_template_hash: str
    metrics: _containers.ScalarMap[str, float]
    quest: str
    mantra_text: str
    mantra_rule: str
    mantra_version: int
    def __init__(self, hero: _Optional[str] = ..., campaign: _Optional[str] = ..., source_assets: _Optional[_Iterable[str]] = ..., parent_checkpoint: _Optional[str] = ..., global_step: _Optional[int] = ..., config_hash: _Optional[str] = ..., base_model_digest: _Optional[str] = ..., tokenizer_hash: _Optional[str] = ..., chat_template_hash: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., quest: _Optional[str] = ..., mantra_text: _Optional[str] = ..., mantra_rule: _Optional[str] = ..., mantra_version: _Optional[int] = ...) -> None: ...

class Asset(_message.Message):
    __slots__ = ("name", "kind", "state", "display_name", "files", "manifest_digest", "size_bytes", "zones", "labels", "lineage", "pinned", "aliases", "eval_count", "create_time", "verify_time", "in_place")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    EVAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERIFY_TIME_FIELD_NUMBER: _ClassVar[int]
    IN_PLACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: AssetKind
    state: AssetState
    display_name: str
    files: _containers.RepeatedCompositeFieldContainer[AssetFile]
    manifest_digest: str
    size_bytes: int
    zones: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.ScalarMap[str, str]
    lineage: Lineage
    pinned: bool
    aliases: _containers.RepeatedScalarFieldContainer[str]
    eval_count: int
    create_time: _timestamp_pb2.Timestamp
    verify_time: _timestamp_pb2.Timestamp
    in_place: bool
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[AssetKind, str]] = ..., state: _Optional[_Union[AssetState, str]] = ..., display_name: _Optional[str] = ..., files: _Optional[_Iterable[_Union[AssetFile, _Mapping]]] = ..., manifest_digest: _Optional[str] = ..., size_bytes: _Optional[int] = ..., zones: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., lineage: _Optional[_Union[Lineage, _Mapping]] = ..., pinned: _Optional[bool] = ..., aliases: _Optional[_Iterable[str]] = ..., eval_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., verify_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., in_place: _Optional[bool] = ...) -> None: ...

class CreateUploadRequest(_message.Message):
    __slots__ = ("kind", "display_name", "files", "lineage", "labels", "zone", "request_id")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    kind: AssetKind
    display_name: str
    files: _containers.RepeatedCompositeFieldContainer[AssetFile]
    lineage: Lineage
    labels: _containers.ScalarMap[str, str]
    zone: str
    request_id: str
    def __init__(self, kind: _Optional[_Union[AssetKind, str]] = ..., display_name: _Optional[str] = ..., files: _Optional[_Iterable[_Union[AssetFile, _Mapping]]] = ..., lineage: _Optional[_Union[Lineage, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ..., zone: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class Upload(_message.Message):
    __slots__ = ("name", "asset", "files", "committed")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    name: str
    asset: str
    files: _containers.RepeatedCompositeFieldContainer[FileProgress]
    committed: bool
    def __init__(self, name: _Optional[str] = ..., asset: _Optional[str] = ..., files: _Optional[_Iterable[_Union[FileProgress, _Mapping]]] = ..., committed: _Optional[bool] = ...) -> None: ...

class FileProgress(_message.Message):
    __slots__ = ("path", "size_bytes", "received_bytes", "already_stored")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    ALREADY_STORED_FIELD_NUMBER: _ClassVar[int]
    path: str
    size_bytes: int
    received_bytes: int
    already_stored: bool
    def __init__(self, path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., received_bytes: _Optional[int] = ..., already_stored: _Optional[bool] = ...) -> None: ...

class CreateUploadResponse(_message.Message):
    __slots__ = ("upload",)
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    upload: Upload
    def __init__(self, upload: _Optional[_Union[Upload, _Mapping]] = ...) -> None: ...

class WriteUploadRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: WriteUploadHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[WriteUploadHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class WriteUploadHeader(_message.Message):
    __slots__ = ("upload", "path", "offset")
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    upload: str
    path: str
    offset: int
    def __init__(self, upload: _Optional[str] = ..., path: _Optional[str] = ..., offset: _Optional[int] = ...) -> None: ...

class WriteUploadResponse(_message.Message):
    __slots__ = ("file",)
    FILE_FIELD_NUMBER: _ClassVar[int]
    file: FileProgress
    def __init__(self, file: _Optional[_Union[FileProgress, _Mapping]] = ...) -> None: ...

class GetUploadRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetUploadResponse(_message.Message):
    __slots__ = ("upload",)
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    upload: Upload
    def __init__(self, upload: _Optional[_Union[Upload, _Mapping]] = ...) -> None: ...

class CommitUploadRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CommitUploadResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class AbortUploadRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class AbortUploadResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RegisterInPlaceRequest(_message.Message):
    __slots__ = ("zone", "path", "kind", "display_name", "lineage", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ZONE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    zone: str
    path: str
    kind: AssetKind
    display_name: str
    lineage: Lineage
    labels: _containers.ScalarMap[str, str]
    def __init__(self, zone: _Optional[str] = ..., path: _Optional[str] = ..., kind: _Optional[_Union[AssetKind, str]] = ..., display_name: _Optional[str] = ..., lineage: _Optional[_Union[Lineage, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RegisterInPlaceResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class DownloadFileRequest(_message.Message):
    __slots__ = ("asset", "path", "offset", "chunk_size")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    asset: str
    path: str
    offset: int
    chunk_size: int
    def __init__(self, asset: _Optional[str] = ..., path: _Optional[str] = ..., offset: _Optional[int] = ..., chunk_size: _Optional[int] = ...) -> None: ...

class DownloadFileResponse(_message.Message):
    __slots__ = ("chunk", "offset", "size_bytes", "sha256")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    offset: int
    size_bytes: int
    sha256: str
    def __init__(self, chunk: _Optional[bytes] = ..., offset: _Optional[int] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class GetAssetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetAssetResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class ListAssetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "kind", "campaign", "hero", "show_deleted", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    HERO_FIELD_NUMBER: _ClassVar[int]
    SHOW_DELETED_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    kind: AssetKind
    campaign: str
    hero: str
    show_deleted: bool
    labels: _containers.ScalarMap[str, str]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., kind: _Optional[_Union[AssetKind, str]] = ..., campaign: _Optional[str] = ..., hero: _Optional[str] = ..., show_deleted: _Optional[bool] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListAssetsResponse(_message.Message):
    __slots__ = ("assets", "next_page_token", "total_size")
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    assets: _containers.RepeatedCompositeFieldContainer[Asset]
    next_page_token: str
    total_size: int
    def __init__(self, assets: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class QueryCheckpointsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "hero", "campaign", "skill", "order_by", "min_global_step", "level")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    HERO_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    SKILL_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    MIN_GLOBAL_STEP_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    hero: str
    campaign: str
    skill: str
    order_by: str
    min_global_step: int
    level: int
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., hero: _Optional[str] = ..., campaign: _Optional[str] = ..., skill: _Optional[str] = ..., order_by: _Optional[str] = ..., min_global_step: _Optional[int] = ..., level: _Optional[int] = ...) -> None: ...

class CheckpointSummary(_message.Message):
    __slots__ = ("asset", "best_eval")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    BEST_EVAL_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    best_eval: Eval
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ..., best_eval: _Optional[_Union[Eval, _Mapping]] = ...) -> None: ...

class QueryCheckpointsResponse(_message.Message):
    __slots__ = ("checkpoints", "next_page_token")
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    checkpoints: _containers.RepeatedCompositeFieldContainer[CheckpointSummary]
    next_page_token: str
    def __init__(self, checkpoints: _Optional[_Iterable[_Union[CheckpointSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateAssetLabelsRequest(_message.Message):
    __slots__ = ("name", "set_labels", "remove_labels")
    class SetLabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    SET_LABELS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_LABELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    set_labels: _containers.ScalarMap[str, str]
    remove_labels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., set_labels: _Optional[_Mapping[str, str]] = ..., remove_labels: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateAssetLabelsResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class DeleteAssetRequest(_message.Message):
    __slots__ = ("name", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class DeleteAssetResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class Alias(_message.Message):
    __slots__ = ("name", "asset", "system", "metric", "metric_value", "direction", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    METRIC_VALUE_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    asset: str
    system: bool
    metric: str
    metric_value: float
    direction: MetricDirection
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., asset: _Optional[str] = ..., system: _Optional[bool] = ..., metric: _Optional[str] = ..., metric_value: _Optional[float] = ..., direction: _Optional[_Union[MetricDirection, str]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetAliasRequest(_message.Message):
    __slots__ = ("alias", "only_if_better")
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    ONLY_IF_BETTER_FIELD_NUMBER: _ClassVar[int]
    alias: Alias
    only_if_better: bool
    def __init__(self, alias: _Optional[_Union[Alias, _Mapping]] = ..., only_if_better: _Optional[bool] = ...) -> None: ...

class SetAliasResponse(_message.Message):
    __slots__ = ("alias", "moved")
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    alias: Alias
    moved: bool
    def __init__(self, alias: _Optional[_Union[Alias, _Mapping]] = ..., moved: _Optional[bool] = ...) -> None: ...

class ResolveAliasRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ResolveAliasResponse(_message.Message):
    __slots__ = ("alias", "asset")
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    alias: Alias
    asset: Asset
    def __init__(self, alias: _Optional[_Union[Alias, _Mapping]] = ..., asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class ListAliasesRequest(_message.Message):
    __slots__ = ("campaign", "page_size", "page_token")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    page_size: int
    page_token: str
    def __init__(self, campaign: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAliasesResponse(_message.Message):
    __slots__ = ("aliases", "next_page_token")
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    aliases: _containers.RepeatedCompositeFieldContainer[Alias]
    next_page_token: str
    def __init__(self, aliases: _Optional[_Iterable[_Union[Alias, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteAliasRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteAliasResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PinAssetRequest(_message.Message):
    __slots__ = ("name", "note")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    name: str
    note: str
    def __init__(self, name: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class PinAssetResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class UnpinAssetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UnpinAssetResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class Eval(_message.Message):
    __slots__ = ("name", "asset", "skill", "level", "accuracy", "correct", "total", "report_asset", "regime", "eval_set_hash", "metrics", "create_time")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    SKILL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    CORRECT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    REPORT_ASSET_FIELD_NUMBER: _ClassVar[int]
    REGIME_FIELD_NUMBER: _ClassVar[int]
    EVAL_SET_HASH_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    asset: str
    skill: str
    level: int
    accuracy: float
    correct: int
    total: int
    report_asset: str
    regime: str
    eval_set_hash: str
    metrics: _containers.ScalarMap[str, float]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., asset: _Optional[str] = ..., skill: _Optional[str] = ..., level: _Optional[int] = ..., accuracy: _Optional[float] = ..., correct: _Optional[int] = ..., total: _Optional[int] = ..., report_asset: _Optional[str] = ..., regime: _Optional[str] = ..., eval_set_hash: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AttachEvalRequest(_message.Message):
    __slots__ = ("asset", "eval")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    EVAL_FIELD_NUMBER: _ClassVar[int]
    asset: str
    eval: Eval
    def __init__(self, asset: _Optional[str] = ..., eval: _Optional[_Union[Eval, _Mapping]] = ...) -> None: ...

class AttachEvalResponse(_message.Message):
    __slots__ = ("eval",)
    EVAL_FIELD_NUMBER: _ClassVar[int]
    eval: Eval
    def __init__(self, eval: _Optional[_Union[Eval, _Mapping]] = ...) -> None: ...

class ListEvalsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "asset", "campaign", "skill")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    SKILL_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    asset: str
    campaign: str
    skill: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., asset: _Optional[str] = ..., campaign: _Optional[str] = ..., skill: _Optional[str] = ...) -> None: ...

class ListEvalsResponse(_message.Message):
    __slots__ = ("evals", "next_page_token")
    EVALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    evals: _containers.RepeatedCompositeFieldContainer[Eval]
    next_page_token: str
    def __init__(self, evals: _Optional[_Iterable[_Union[Eval, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class LedgerEvent(_message.Message):
    __slots__ = ("sequence", "kind", "time", "asset", "campaign", "hero", "asset_kind", "alias", "message", "attributes")
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
    ASSET_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    HERO_FIELD_NUMBER: _ClassVar[int]
    ASSET_KIND_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    kind: LedgerEventKind
    time: _timestamp_pb2.Timestamp
    asset: str
    campaign: str
    hero: str
    asset_kind: AssetKind
    alias: str
    message: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, sequence: _Optional[int] = ..., kind: _Optional[_Union[LedgerEventKind, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., asset: _Optional[str] = ..., campaign: _Optional[str] = ..., hero: _Optional[str] = ..., asset_kind: _Optional[_Union[AssetKind, str]] = ..., alias: _Optional[str] = ..., message: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class WatchLedgerRequest(_message.Message):
    __slots__ = ("after_sequence", "history_only", "campaign", "kinds", "from_now")
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_ONLY_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    FROM_NOW_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    history_only: bool
    campaign: str
    kinds: _containers.RepeatedScalarFieldContainer[LedgerEventKind]
    from_now: bool
    def __init__(self, after_sequence: _Optional[int] = ..., history_only: _Optional[bool] = ..., campaign: _Optional[str] = ..., kinds: _Optional[_Iterable[_Union[LedgerEventKind, str]]] = ..., from_now: _Optional[bool] = ...) -> None: ...

class WatchLedgerResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: LedgerEvent
    def __init__(self, event: _Optional[_Union[LedgerEvent, _Mapping]] = ...) -> None: ...

class ListLedgerEventsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "after_sequence", "campaign")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    after_sequence: int
    campaign: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., after_sequence: _Optional[int] = ..., campaign: _Optional[str] = ...) -> None: ...

class ListLedgerEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[LedgerEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[LedgerEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AppendLedgerEventRequest(_message.Message):
    __slots__ = ("event", "idempotency_key")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    event: LedgerEvent
    idempotency_key: str
    def __init__(self, event: _Optional[_Union[LedgerEvent, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class AppendLedgerEventResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: LedgerEvent
    def __init__(self, event: _Optional[_Union[LedgerEvent, _Mapping]] = ...) -> None: ...

class RetentionPolicy(_message.Message):
    __slots__ = ("campaign", "keep_latest", "keep_best_per_skill", "keep_pinned", "keep_newer_than", "min_evals_before_delete", "zone_byte_caps", "enabled")
    class ZoneByteCapsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    KEEP_LATEST_FIELD_NUMBER: _ClassVar[int]
    KEEP_BEST_PER_SKILL_FIELD_NUMBER: _ClassVar[int]
    KEEP_PINNED_FIELD_NUMBER: _ClassVar[int]
    KEEP_NEWER_THAN_FIELD_NUMBER: _ClassVar[int]
    MIN_EVALS_BEFORE_DELETE_FIELD_NUMBER: _ClassVar[int]
    ZONE_BYTE_CAPS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    keep_latest: int
    keep_best_per_skill: bool
    keep_pinned: bool
    keep_newer_than: _duration_pb2.Duration
    min_evals_before_delete: int
    zone_byte_caps: _containers.ScalarMap[str, int]
    enabled: bool
    def __init__(self, campaign: _Optional[str] = ..., keep_latest: _Optional[int] = ..., keep_best_per_skill: _Optional[bool] = ..., keep_pinned: _Optional[bool] = ..., keep_newer_than: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., min_evals_before_delete: _Optional[int] = ..., zone_byte_caps: _Optional[_Mapping[str, int]] = ..., enabled: _Optional[bool] = ...) -> None: ...

class SetRetentionPolicyRequest(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: RetentionPolicy
    def __init__(self, policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ...) -> None: ...

class SetRetentionPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: RetentionPolicy
    def __init__(self, policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ...) -> None: ...

class GetRetentionPolicyRequest(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    def __init__(self, campaign: _Optional[str] = ...) -> None: ...

class GetRetentionPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: RetentionPolicy
    def __init__(self, policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ...) -> None: ...

class GcDecision(_message.Message):
    __slots__ = ("asset", "keep", "reasons", "size_bytes", "reclaim_bytes", "global_step")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    RECLAIM_BYTES_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_STEP_FIELD_NUMBER: _ClassVar[int]
    asset: str
    keep: bool
    reasons: _containers.RepeatedScalarFieldContainer[str]
    size_bytes: int
    reclaim_bytes: int
    global_step: int
    def __init__(self, asset: _Optional[str] = ..., keep: _Optional[bool] = ..., reasons: _Optional[_Iterable[str]] = ..., size_bytes: _Optional[int] = ..., reclaim_bytes: _Optional[int] = ..., global_step: _Optional[int] = ...) -> None: ...

class RunGcRequest(_message.Message):
    __slots__ = ("campaign", "dry_run")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    dry_run: bool
    def __init__(self, campaign: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class RunGcResponse(_message.Message):
    __slots__ = ("decisions", "deleted_assets", "reclaimed_bytes", "dry_run", "resumed_deletions")
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    DELETED_ASSETS_FIELD_NUMBER: _ClassVar[int]
    RECLAIMED_BYTES_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    RESUMED_DELETIONS_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[GcDecision]
    deleted_assets: int
    reclaimed_bytes: int
    dry_run: bool
    resumed_deletions: int
    def __init__(self, decisions: _Optional[_Iterable[_Union[GcDecision, _Mapping]]] = ..., deleted_assets: _Optional[int] = ..., reclaimed_bytes: _Optional[int] = ..., dry_run: _Optional[bool] = ..., resumed_deletions: _Optional[int] = ...) -> None: ...

class VerifyAssetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class FileVerification(_message.Message):
    __slots__ = ("path", "ok", "expected_sha256", "actual_sha256", "problem")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SHA256_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_SHA256_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    path: str
    ok: bool
    expected_sha256: str
    actual_sha256: str
    problem: str
    def __init__(self, path: _Optional[str] = ..., ok: _Optional[bool] = ..., expected_sha256: _Optional[str] = ..., actual_sha256: _Optional[str] = ..., problem: _Optional[str] = ...) -> None: ...

class VerifyAssetResponse(_message.Message):
    __slots__ = ("asset", "ok", "files")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    ok: bool
    files: _containers.RepeatedCompositeFieldContainer[FileVerification]
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ..., ok: _Optional[bool] = ..., files: _Optional[_Iterable[_Union[FileVerification, _Mapping]]] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatsBucket(_message.Message):
    __slots__ = ("key", "assets", "files", "logical_bytes", "stored_bytes")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    key: str
    assets: int
    files: int
    logical_bytes: int
    stored_bytes: int
    def __init__(self, key: _Optional[str] = ..., assets: _Optional[int] = ..., files: _Optional[int] = ..., logical_bytes: _Optional[int] = ..., stored_bytes: _Optional[int] = ...) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("by_zone", "by_kind", "by_campaign", "total")
    BY_ZONE_FIELD_NUMBER: _ClassVar[int]
    BY_KIND_FIELD_NUMBER: _ClassVar[int]
    BY_CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    by_zone: _containers.RepeatedCompositeFieldContainer[StatsBucket]
    by_kind: _containers.RepeatedCompositeFieldContainer[StatsBucket]
    by_campaign: _containers.RepeatedCompositeFieldContainer[StatsBucket]
    total: StatsBucket
    def __init__(self, by_zone: _Optional[_Iterable[_Union[StatsBucket, _Mapping]]] = ..., by_kind: _Optional[_Iterable[_Union[StatsBucket, _Mapping]]] = ..., by_campaign: _Optional[_Iterable[_Union[StatsBucket, _Mapping]]] = ..., total: _Optional[_Union[StatsBucket, _Mapping]] = ...) -> None: ...
