from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ValidateTrainingConfigRequest(_message.Message):
    __slots__ = ("hero", "campaign", "overrides")
    HERO_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    hero: str
    campaign: str
    overrides: _struct_pb2.Struct
    def __init__(self, hero: _Optional[str] = ..., campaign: _Optional[str] = ..., overrides: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ConfigProblem(_message.Message):
    __slots__ = ("field", "message", "origin")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    field: str
    message: str
    origin: str
    def __init__(self, field: _Optional[str] = ..., message: _Optional[str] = ..., origin: _Optional[str] = ...) -> None: ...

class ValidateTrainingConfigResponse(_message.Message):
    __slots__ = ("valid", "problems", "config", "config_hash")
    VALID_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CONFIG_HASH_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    problems: _containers.RepeatedCompositeFieldContainer[ConfigProblem]
    config: _struct_pb2.Struct
    config_hash: str
    def __init__(self, valid: _Optional[bool] = ..., problems: _Optional[_Iterable[_Union[ConfigProblem, _Mapping]]] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., config_hash: _Optional[str] = ...) -> None: ...
