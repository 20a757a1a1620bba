"""Resource names: assets/{asset}, uploads/{upload}, campaigns/{campaign}/aliases/{alias}, heroes/{hero}."""

from __future__ import annotations

import re

from services.kit.errors import InvalidArgument

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_ALIAS_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
SYSTEM_ALIASES = ("latest",)
BEST_PREFIX = "best/"


def resource_id(name: str, collection: str, field: str) -> str:
    prefix = collection + "/"
    if not name:
        raise InvalidArgument(f"must be {prefix}{{id}}", field=field)
    if not name.startswith(prefix) or not _ID.match(name[len(prefix):]):
        raise InvalidArgument(f"{name!r} is not a valid {prefix}{{id}} name", field=field)
    return name[len(prefix):]


def asset_id(name: str, field: str = "name") -> str:
    return resource_id(name, "assets", field)


def upload_id(name: str, field: str = "name") -> str:
    return resource_id(name, "uploads", field)


def campaign_name(raw: str, field: str, *, allow_default: bool = False) -> str:
    """Canonical campaigns/{campaign}; a bare id is accepted. Empty stays empty."""
    if not raw:
        return ""
    if allow_default and raw == "campaigns/-":
        return raw
    bare = raw[len("campaigns/"):] if raw.startswith("campaigns/") else raw
    if not _ID.match(bare):
        raise InvalidArgument(f"{raw!r} is not a campaign name (campaigns/{{campaign}})", field=field)
    return f"campaigns/{bare}"


def hero_name(raw: str, field: str) -> str:
    if not raw:
        return ""
    bare = raw[len("heroes/"):] if raw.startswith("heroes/") else raw
    if not _ID.match(bare):
        raise InvalidArgument(f"{raw!r} is not a hero name (heroes/{{hero}})", field=field)
    return f"heroes/{bare}"


def is_alias_name(name: str) -> bool:
    return name.startswith("campaigns/") and "/aliases/" in name


def split_alias(name: str, field: str) -> tuple[str, str]:
    """campaigns/{c}/aliases/{alias} -> ("campaigns/c", "alias"); the alias may contain '/' (best/bin)."""
    head, sep, alias = name.partition("/aliases/")
    if not sep:
        raise InvalidArgument(f"{name!r} is not campaigns/{{campaign}}/aliases/{{alias}}", field=field)
    campaign = campaign_name(head, field)
    if head != campaign or not alias or not all(_ALIAS_SEGMENT.match(s) for s in alias.split("/")):
        raise InvalidArgument(f"{name!r} is not campaigns/{{campaign}}/aliases/{{alias}}", field=field)
    return campaign, alias


def alias_name(campaign: str, alias: str) -> str:
    return f"{campaign}/aliases/{alias}"


def check_sha256(value: str, field: str) -> str:
    if not _SHA256.match(value):
        raise InvalidArgument("must be 64 lowercase hex characters", field=field)
    return value
