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

class ServingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVING_STATE_UNSPECIFIED: _ClassVar[ServingState]
    SERVING_STATE_SERVING: _ClassVar[ServingState]
    SERVING_STATE_NOT_SERVING: _ClassVar[ServingState]
    SERVING_STATE_UNREACHABLE: _ClassVar[ServingState]

class ProbeMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROBE_MODE_UNSPECIFIED: _ClassVar[ProbeMode]
    PROBE_MODE_WATCH: _ClassVar[ProbeMode]
    PROBE_MODE_CHECK: _ClassVar[ProbeMode]
    PROBE_MODE_HTTP: _ClassVar[ProbeMode]

class DiskLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISK_LEVEL_UNSPECIFIED: _ClassVar[DiskLevel]
    DISK_LEVEL_OK: _ClassVar[DiskLevel]
    DISK_LEVEL_WARN: _ClassVar[DiskLevel]
    DISK_LEVEL_CRITICAL: _ClassVar[DiskLevel]

class AlertKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_KIND_UNSPECIFIED: _ClassVar[AlertKind]
    ALERT_KIND_SERVICE_DOWN: _ClassVar[AlertKind]
    ALERT_KIND_DISK_USAGE: _ClassVar[AlertKind]

class AlertSeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_SEVERITY_UNSPECIFIED: _ClassVar[AlertSeverity]
    ALERT_SEVERITY_WARN: _ClassVar[AlertSeverity]
    ALERT_SEVERITY_CRITICAL: _ClassVar[AlertSeverity]

class FleetState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FLEET_STATE_UNSPECIFIED: _ClassVar[FleetState]
    FLEET_STATE_ONLINE: _ClassVar[FleetState]
    FLEET_STATE_DEGRADED: _ClassVar[FleetState]
    FLEET_STATE_OFFLINE: _ClassVar[FleetState]
SERVING_STATE_UNSPECIFIED: ServingState
SERVING_STATE_SERVING: ServingState
SERVING_STATE_NOT_SERVING: ServingState
SERVING_STATE_UNREACHABLE: ServingState
PROBE_MODE_UNSPECIFIED: ProbeMode
PROBE_MODE_WATCH: ProbeMode
PROBE_MODE_CHECK: ProbeMode
PROBE_MODE_HTTP: ProbeMode
DISK_LEVEL_UNSPECIFIED: DiskLevel
DISK_LEVEL_OK: DiskLevel
DISK_LEVEL_WARN: DiskLevel
DISK_LEVEL_CRITICAL: DiskLevel
ALERT_KIND_UNSPECIFIED: AlertKind
ALERT_KIND_SERVICE_DOWN: AlertKind
ALERT_KIND_DISK_USAGE: AlertKind
ALERT_SEVERITY_UNSPECIFIED: AlertSeverity
ALERT_SEVERITY_WARN: AlertSeverity
ALERT_SEVERITY_CRITICAL: AlertSeverity
FLEET_STATE_UNSPECIFIED: FleetState
FLEET_STATE_ONLINE: FleetState
FLEET_STATE_DEGRADED: FleetState
FLEET_STATE_OFFLINE: FleetState

class ServiceHealth(_message.Message):
    __slots__ = ("service", "host", "address", "state", "latency_ms", "check_time", "last_change_time", "error", "reconnects", "mode")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    CHECK_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RECONNECTS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    service: str
    host: str
    address: str
    state: ServingState
    latency_ms: float
    check_time: _timestamp_pb2.Timestamp
    last_change_time: _timestamp_pb2.Timestamp
    error: str
    reconnects: int
    mode: ProbeMode
    def __init__(self, service: _Optional[str] = ..., host: _Optional[str] = ..., address: _Optional[str] = ..., state: _Optional[_Union[ServingState, str]] = ..., latency_ms: _Optional[float] = ..., check_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[str] = ..., reconnects: _Optional[int] = ..., mode: _Optional[_Union[ProbeMode, str]] = ...) -> None: ...

class DiskUsage(_message.Message):
    __slots__ = ("path", "total_bytes", "used_bytes", "free_bytes", "used_percent", "level")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_PERCENT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    path: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    used_percent: float
    level: DiskLevel
    def __init__(self, path: _Optional[str] = ..., total_bytes: _Optional[int] = ..., used_bytes: _Optional[int] = ..., free_bytes: _Optional[int] = ..., used_percent: _Optional[float] = ..., level: _Optional[_Union[DiskLevel, str]] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("kind", "severity", "subject", "host", "message", "fire_time", "resolve_time")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    kind: AlertKind
    severity: AlertSeverity
    subject: str
    host: str
    message: str
    fire_time: _timestamp_pb2.Timestamp
    resolve_time: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[AlertKind, str]] = ..., severity: _Optional[_Union[AlertSeverity, str]] = ..., subject: _Optional[str] = ..., host: _Optional[str] = ..., message: _Optional[str] = ..., fire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Host(_message.Message):
    __slots__ = ("name", "address", "roles", "services", "state", "disks")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DISKS_FIELD_NUMBER: _ClassVar[int]
    name: str
    address: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    services: _containers.RepeatedCompositeFieldContainer[ServiceHealth]
    state: FleetState
    disks: _containers.RepeatedCompositeFieldContainer[DiskUsage]
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., services: _Optional[_Iterable[_Union[ServiceHealth, _Mapping]]] = ..., state: _Optional[_Union[FleetState, str]] = ..., disks: _Optional[_Iterable[_Union[DiskUsage, _Mapping]]] = ...) -> None: ...

class ListHostsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListHostsResponse(_message.Message):
    __slots__ = ("hosts", "next_page_token")
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    hosts: _containers.RepeatedCompositeFieldContainer[Host]
    next_page_token: str
    def __init__(self, hosts: _Optional[_Iterable[_Union[Host, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetHostRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetHostResponse(_message.Message):
    __slots__ = ("host",)
    HOST_FIELD_NUMBER: _ClassVar[int]
    host: Host
    def __init__(self, host: _Optional[_Union[Host, _Mapping]] = ...) -> None: ...

class FleetStatus(_message.Message):
    __slots__ = ("state", "hosts", "update_time", "serving", "total", "alerts")
    STATE_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SERVING_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    state: FleetState
    hosts: _containers.RepeatedCompositeFieldContainer[Host]
    update_time: _timestamp_pb2.Timestamp
    serving: int
    total: int
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    def __init__(self, state: _Optional[_Union[FleetState, str]] = ..., hosts: _Optional[_Iterable[_Union[Host, _Mapping]]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., serving: _Optional[int] = ..., total: _Optional[int] = ..., alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ...) -> None: ...

class GetFleetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetFleetStatusResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: FleetStatus
    def __init__(self, status: _Optional[_Union[FleetStatus, _Mapping]] = ...) -> None: ...

class WatchFleetRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchFleetResponse(_message.Message):
    __slots__ = ("status", "alert_events")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ALERT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    status: FleetStatus
    alert_events: _containers.RepeatedCompositeFieldContainer[Alert]
    def __init__(self, status: _Optional[_Union[FleetStatus, _Mapping]] = ..., alert_events: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ...) -> None: ...
