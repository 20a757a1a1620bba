"""Opaque page tokens bound to the filters of the request that produced them."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from services.kit.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(value: int, field: str = "page_size") -> int:
    if value < 0:
        raise InvalidArgument("must be >= 0", field=field)
    return min(value or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def fingerprint(filters: Any) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode_token(position: Any, filters: Any) -> str:
    raw = json.dumps({"p": position, "f": fingerprint(filters)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, filters: Any, field: str = "page_token") -> Any:
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
