"""GET /api/config: the realm configuration as this gateway loaded it (realm.yaml + REALM__* environment
overrides), with every secret redacted, for the Tavern's Settings page and `realm config show`.

Redaction happens once, when the settings are loaded: the redacted copy is all the gateway keeps for this view,
so no code path here can hand out a token. A value is redacted when its key names a secret (token, secret,
password, key, credential…), when it is the `value` of an entry under such a key (auth.tokens[].value), or when
it is a URL with a password in it. Token references (the env variable or file that holds a token) stay visible:
they say where a secret lives, not what it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"(^|[_.-])(tokens?|secrets?|password|passwd|passphrase|api[_-]?key|keys?|credentials?|"
                         r"private|cookie|salt)($|[_.-])", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^/@:\s]+:)([^/@\s]+)(@)")
# Keys under a secret-named mapping that only point at where a secret lives (never the secret itself).
_REFERENCES = frozenset({"name", "role", "env", "file", "roles", "description"})


def _is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def redact(value: Any, *, path: str = "", under_secret: bool = False, found: list[str] | None = None) -> Any:
    """A deep copy of `value` with secrets replaced by REDACTED; `found` collects the redacted paths."""
    found = [] if found is None else found
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            secret_key = _is_secret_key(str(key))
            if isinstance(item, Mapping | list):
                result[key] = redact(item, path=child, under_secret=under_secret or secret_key, found=found)
            elif str(key) in _REFERENCES and not secret_key:
                result[key] = _scrub_url(item, child, found)
            else:
                result[key] = _leaf(item, child, secret_key or under_secret, found)
        return result
    if isinstance(value, list):
        return [redact(item, path=f"{path}[{i}]", under_secret=under_secret, found=found)
                if isinstance(item, Mapping | list) else _leaf(item, f"{path}[{i}]", under_secret, found)
                for i, item in enumerate(value)]
    return _leaf(value, path, under_secret, found)


def _leaf(value: Any, path: str, secret: bool, found: list[str]) -> Any:
    # Secrets are strings: a number under a secret-looking key (max_new_tokens: 256) is a setting, shown as is.
    if secret and isinstance(value, str) and value:
        found.append(path)
        return REDACTED
    return _scrub_url(value, path, found)


def _scrub_url(value: Any, path: str, found: list[str]) -> Any:
    if isinstance(value, str) and _URL_PASSWORD.search(value):
        found.append(path)
        return _URL_PASSWORD.sub(rf"\g<1>{REDACTED}\g<3>", value)
    return value


def effective_view(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    found: list[str] = []
    settings = redact(raw, found=found)
    return {"source": source, "settings": settings, "redacted": found}


def config_handler(view: Mapping[str, Any]):
    """The handler for GET /api/config (any signed-in role: nothing in `view` is secret)."""

    async def effective_config(request: web.Request) -> web.Response:
        return web.json_response(view, headers={"Cache-Control": "no-store"})

    return effective_config
