"""The gateway's settings: backend addresses, the tokens it recognises at the edge, hosts, limits and timeouts.

Read from realm.yaml's `gateway:` section; every key has a default suited to `make run`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.gateway.config_view import effective_view
from services.kit.config import ConfigError, Settings

MIB = 1 << 20
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class EdgeToken:
    name: str
    role: str
    value: str = field(repr=False)


@dataclass(frozen=True)
class BodyLimits:
    """Per-route ceilings on request bodies, checked on Content-Length before reading and again while reading."""

    json_bytes: int = 1 * MIB
    generation_bytes: int = 8 * MIB
    upload_bytes: int = 64 * 1024 * MIB


@dataclass(frozen=True)
class GatewayConfig:
    addresses: Mapping[str, str]
    tokens: tuple[EdgeToken, ...] = ()
    # Host header values accepted (host part only, lower case); empty = accept any (only for tests that say so).
    allowed_hosts: frozenset[str] = frozenset(LOOPBACK_HOSTS)
    default_model: str = "models/default"
    limits: BodyLimits = BodyLimits()
    # A connection that has not finished sending its request headers (or sits idle between requests) this long
    # is closed; a request body that stalls for body_idle_seconds gets 408.
    header_timeout_seconds: float = 10.0
    body_idle_seconds: float = 30.0
    heartbeat_seconds: float = 15.0
    # OpenAI/TGI streams send their headers with the first token (so an unknown model or a full queue is a real
    # HTTP status), or as soon as the inference service has accepted the request, or after this long at most.
    stream_headers_seconds: float = 3.0
    max_json_depth: int = 64
    session_ttl_seconds: float = 12 * 3600.0
    # Set the Secure flag on the session cookie (behind TLS).
    secure_cookies: bool = False
    # The data dir: the session-signing key and the sign-out list live under it, so sessions survive a restart
    # (None: both in memory, sessions end with the process).
    state_dir: Path | None = None
    # OpenAI/TGI model names that mean "whatever is served by default" (the HF clients send these).
    default_aliases: frozenset[str] = frozenset({"", "default", "tgi", "dummy"})
    # The realm configuration as loaded, secrets already redacted (config_view): served at GET /api/config.
    effective: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def role_of(self, token: str) -> str | None:
        import hmac

        found = None
        for candidate in self.tokens:  # compare with every token, constant time, so timing says nothing
            if hmac.compare_digest(candidate.value.encode(), token.encode()):
                found = candidate.role
        return found


def _number(section: Mapping[str, Any], key: str, default: float, *, minimum: float = 0.001) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"gateway.{key}", f"must be a number >= {minimum}, got {value!r}")
    return value


def config_from_settings(settings: Settings, addresses: Mapping[str, str] | None = None,
                         **overrides: Any) -> GatewayConfig:
    section = settings.section("gateway")
    hosts = {h.address.lower() for h in settings.hosts.values()} | {name.lower() for name in settings.hosts}
    extra = section.get("allowed_hosts", [])
    if not isinstance(extra, list) or not all(isinstance(h, str) for h in extra):
        raise ConfigError("gateway.allowed_hosts", "must be a list of host names")
    limits_raw = section.get("body_limits", {}) or {}
    if not isinstance(limits_raw, dict):
        raise ConfigError("gateway.body_limits", "must be a mapping")
    defaults = BodyLimits()
    limits = BodyLimits(**{k: int(_number(limits_raw, k, getattr(defaults, k), minimum=1))
                           for k in ("json_bytes", "generation_bytes", "upload_bytes")})
    if addresses is None:
        addresses = {name: svc.address for name, svc in settings.services.items() if name != "gateway"}
    values: dict[str, Any] = dict(
        addresses=dict(addresses),
        tokens=tuple(EdgeToken(t.name, t.role, t.value) for t in settings.tokens),
        allowed_hosts=frozenset(LOOPBACK_HOSTS) | hosts | {h.lower() for h in extra},
        default_model=str(section.get("default_model", "models/default")),
        limits=limits,
        header_timeout_seconds=_number(section, "header_timeout_seconds", 10.0),
        body_idle_seconds=_number(section, "body_idle_seconds", 30.0),
        heartbeat_seconds=_number(section, "heartbeat_seconds", 15.0),
        stream_headers_seconds=_number(section, "stream_headers_seconds", 3.0),
        secure_cookies=bool(section.get("secure_cookies", False)),
        state_dir=settings.data_dir,
        effective=effective_view(settings.raw, str(settings.path or "")),
    )
    values.update(overrides)
    return GatewayConfig(**values)
