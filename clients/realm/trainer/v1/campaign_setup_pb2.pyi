import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MantraRule(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MANTRA_RULE_UNSPECIFIED: _ClassVar[MantraRule]
    MANTRA_RULE_KEEP: _ClassVar[MantraRule]
    MANTRA_RULE_REPLACE: _ClassVar[MantraRule]
MANTRA_RULE_UNSPECIFIED: MantraRule
MANTRA_RULE_KEEP: MantraRule
MANTRA_RULE_REPLACE: MantraRule

class Mantra(_message.Message):
    __slots__ = ("text", "rule", "version", "update_time")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    text: str
    rule: MantraRule
    version: int
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, text: _Optional[str] = ..., rule: _Optional[_Union[MantraRule, str]] = ..., version: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LockedField(_message.Message):
    __slots__ = ("field", "value")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    field: str
    value: str
    def __init__(self, field: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
