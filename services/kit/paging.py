"""Pagination helpers (AIP-158): opaque page tokens over an ordered list or an offset."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import TypeVar

from services.kit.errors import InvalidArgument

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(requested: int, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    if requested < 0:
        raise InvalidArgument("must be >= 0", field="page_size")
    return min(requested or default, maximum)


def encode_token(state: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict:
    if not token:
        return {}
    try:
        padded = token + "=" * (-len(token) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("is not a token this service issued", field="page_token") from None
    if not isinstance(state, dict):
        raise InvalidArgument("is not a token this service issued", field="page_token")
    return state


def paginate(items: Sequence[T], requested_size: int, token: str) -> tuple[list[T], str]:
    size = page_size(requested_size)
    offset = decode_token(token).get("offset", 0)
    if not isinstance(offset, int) or offset < 0:
        raise InvalidArgument("is not a token this service issued", field="page_token")
    page = list(items[offset : offset + size])
    next_token = encode_token({"offset": offset + size}) if offset + size < len(items) else ""
    return page, next_token
