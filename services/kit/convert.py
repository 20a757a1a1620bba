"""Proto <-> domain conversions every servicer needs: timestamps, durations and enums.

One rule for "unset" everywhere: a domain time of None or 0 is an unset proto field, and an unset (zero)
proto timestamp reads back as None. Domain code keeps plain floats (epoch seconds) and Python enums."""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from services.kit.errors import InvalidArgument

E = TypeVar("E", bound=Enum)


def to_timestamp(seconds: float | None) -> Timestamp | None:
    """Epoch seconds as a Timestamp; None (an unset field) for None or 0."""
    if not seconds:
        return None
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def from_timestamp(stamp: Timestamp | None) -> float | None:
    """A Timestamp as epoch seconds; None when it is unset."""
    if stamp is None or not (stamp.seconds or stamp.nanos):
        return None
    return stamp.ToNanoseconds() / 1e9


def to_duration(seconds: float) -> Duration:
    duration = Duration()
    duration.FromNanoseconds(int(seconds * 1e9))
    return duration


def from_duration(duration: Duration | None) -> float:
    return duration.ToNanoseconds() / 1e9 if duration is not None else 0.0


def enum_to_pb(pb_enum: Any, prefix: str, value: Enum | None) -> int:
    """A Python enum member as the proto enum value named PREFIX_<member value>; 0 (UNSPECIFIED) for None."""
    if value is None:
        return 0
    return pb_enum.Value(f"{prefix}_{value.value}")


def enum_from_pb(pb_enum: Any, prefix: str, number: int, domain_enum: type[E], field: str,
                 *, required: bool = True) -> E | None:
    """A proto enum number as the Python enum member whose value is the proto name without PREFIX_.

    An unknown number, or 0 when `required`, is INVALID_ARGUMENT naming `field`."""
    if number == 0:
        if required:
            raise InvalidArgument("must be set", field=field)
        return None
    try:
        name = pb_enum.Name(number)
    except ValueError:
        raise InvalidArgument(f"unknown value {number}", field=field) from None
    try:
        return domain_enum(name.removeprefix(f"{prefix}_"))
    except ValueError:
        raise InvalidArgument(f"unsupported value {name}", field=field) from None


def int_enum_from_pb(number: int, domain_enum: type[E], field: str) -> E:
    """A proto enum number as an IntEnum member with the same numbers; unknown numbers name `field`."""
    try:
        return domain_enum(number)
    except ValueError:
        raise InvalidArgument(f"unknown value {number}", field=field) from None
