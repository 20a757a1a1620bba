import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BackupReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BACKUP_REASON_UNSPECIFIED: _ClassVar[BackupReason]
    BACKUP_REASON_ON_DEMAND: _ClassVar[BackupReason]
    BACKUP_REASON_SCHEDULED: _ClassVar[BackupReason]
    BACKUP_REASON_PRE_RESTORE: _ClassVar[BackupReason]

class RestoreState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESTORE_STATE_UNSPECIFIED: _ClassVar[RestoreState]
    RESTORE_STATE_VALIDATED: _ClassVar[RestoreState]
    RESTORE_STATE_RESTART_PENDING: _ClassVar[RestoreState]
BACKUP_REASON_UNSPECIFIED: BackupReason
BACKUP_REASON_ON_DEMAND: BackupReason
BACKUP_REASON_SCHEDULED: BackupReason
BACKUP_REASON_PRE_RESTORE: BackupReason
RESTORE_STATE_UNSPECIFIED: RestoreState
RESTORE_STATE_VALIDATED: RestoreState
RESTORE_STATE_RESTART_PENDING: RestoreState

class BackupFile(_message.Message):
    __slots__ = ("store", "file", "size_bytes", "sha256", "store_path")
    STORE_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    STORE_PATH_FIELD_NUMBER: _ClassVar[int]
    store: str
    file: str
    size_bytes: int
    sha256: str
    store_path: str
    def __init__(self, store: _Optional[str] = ..., file: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., store_path: _Optional[str] = ...) -> None: ...

class Backup(_message.Message):
    __slots__ = ("name", "service", "create_time", "reason", "files", "total_bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    service: str
    create_time: _timestamp_pb2.Timestamp
    reason: BackupReason
    files: _containers.RepeatedCompositeFieldContainer[BackupFile]
    total_bytes: int
    def __init__(self, name: _Optional[str] = ..., service: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[_Union[BackupReason, str]] = ..., files: _Optional[_Iterable[_Union[BackupFile, _Mapping]]] = ..., total_bytes: _Optional[int] = ...) -> None: ...

class CreateBackupRequest(_message.Message):
    __slots__ = ("parent",)
    PARENT_FIELD_NUMBER: _ClassVar[int]
    parent: str
    def __init__(self, parent: _Optional[str] = ...) -> None: ...

class CreateBackupResponse(_message.Message):
    __slots__ = ("backup",)
    BACKUP_FIELD_NUMBER: _ClassVar[int]
    backup: Backup
    def __init__(self, backup: _Optional[_Union[Backup, _Mapping]] = ...) -> None: ...

class ListBackupsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBackupsResponse(_message.Message):
    __slots__ = ("backups", "next_page_token")
    BACKUPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    backups: _containers.RepeatedCompositeFieldContainer[Backup]
    next_page_token: str
    def __init__(self, backups: _Optional[_Iterable[_Union[Backup, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RestoreBackupRequest(_message.Message):
    __slots__ = ("name", "validate_only")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    name: str
    validate_only: bool
    def __init__(self, name: _Optional[str] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class RestoreBackupResponse(_message.Message):
    __slots__ = ("backup", "state", "message")
    BACKUP_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    backup: Backup
    state: RestoreState
    message: str
    def __init__(self, backup: _Optional[_Union[Backup, _Mapping]] = ..., state: _Optional[_Union[RestoreState, str]] = ..., message: _Optional[str] = ...) -> None: ...
