"""Pagination (AIP-158) shared by every service: opaque page tokens bound to the filters of the request that
produced them, so a token replayed with other filters is refused instead of silently skipping rows."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from services.kit.errors import InvalidArgument

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(requested: int, field: str = "page_size", *, default: int = DEFAULT_PAGE_SIZE,
              maximum: int = MAX_PAGE_SIZE) -> int:
    if requested < 0:
        raise InvalidArgument("must be >= 0", field=field)
    return min(requested or default, maximum)


def fingerprint(filters: Any) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode_token(position: Any, filters: Any = None) -> str:
    raw = json.dumps({"p": position, "f": fingerprint(filters)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, filters: Any = None, field: str = "page_token") -> Any:
    """The position stored in `token`, or None for the first page."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position, bound_to = data["p"], data["f"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument("is not a token this service issued", field=field) from None
    if bound_to != fingerprint(filters):
        raise InvalidArgument("was issued for different filters; restart from the first page", field=field)
    return position


def decode_offset(token: str, filters: Any = None, field: str = "page_token") -> int:
    offset = decode_token(token, filters, field) or 0
    if not isinstance(offset, int) or offset < 0:
        raise InvalidArgument("is not a token this service issued", field=field)
    return offset


def paginate(items: Sequence[T], requested_size: int, token: str, filters: Any = None) -> tuple[list[T], str]:
    size = page_size(requested_size)
    offset = decode_offset(token, filters)
    page = list(items[offset : offset + size])
    next_token = encode_token(offset + size, filters) if offset + size < len(items) else ""
    return page, next_token
