"""Settings: one YAML file (`realm.yaml`) plus environment overrides — the one loader for clients and services.

It lives in the clients package so the SDK and CLI install without the servers; services import it through
`services.kit.config`, which re-exports it.

The file names hosts, roles, service addresses, token references and data directories; no address is
hard-coded anywhere else. Environment overrides use `REALM__A__B=value` for key `a.b` (value parsed as YAML).
An invalid file fails at start with a ConfigError naming the key.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_ENV = "REALM_CONFIG"
OVERRIDE_PREFIX = "REALM__"
ROLES = ("read", "admin")
SERVICE_NAMES = ("vault", "curriculum", "inference", "trainer", "warden", "gateway")
# Start order follows these edges; a service starts once everything it depends on is SERVING.
DEFAULT_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "vault": (),
    "curriculum": ("vault",),
    "inference": ("vault",),
    "trainer": ("vault", "curriculum"),
    "warden": (),
    "gateway": ("vault", "curriculum", "inference", "trainer", "warden"),
}


class ConfigError(ValueError):
    """The configuration is invalid; `key` is the dotted path of the offending entry."""

    def __init__(self, key: str, message: str, source: str = "realm.yaml") -> None:
        self.key = key
        super().__init__(f"{source}: {key}: {message}")


@dataclass(frozen=True)
class HostSpec:
    name: str
    address: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class ServiceEndpoint:
    name: str
    host: str
    # Where clients connect (the host's address) and where the server binds (may be 0.0.0.0 / ::).
    connect_host: str
    bind_host: str
    port: int
    metrics_port: int | None
    depends_on: tuple[str, ...]
    enabled: bool

    @property
    def address(self) -> str:
        """The address clients dial."""
        return _join(self.connect_host, self.port)

    @property
    def bind_address(self) -> str:
        return _join(self.bind_host, self.port)


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class TokenSpec:
    name: str
    role: str
    value: str = field(repr=False)
    file: Path | None = None  # where a file-backed token lives (for messages such as "token: var/secrets/…")
    env: str | None = None  # the environment variable an env-backed token is read from


@dataclass(frozen=True)
class Settings:
    path: Path | None
    root: Path
    data_dir: Path
    hosts: Mapping[str, HostSpec]
    services: Mapping[str, ServiceEndpoint]
    tokens: tuple[TokenSpec, ...]
    client_token_name: str
    raw: Mapping[str, Any]
    this_host: str | None = None

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name) or {}
        if not isinstance(value, dict):
            raise ConfigError(name, "must be a mapping")
        return dict(value)

    def service(self, name: str) -> ServiceEndpoint:
        try:
            return self.services[name]
        except KeyError:
            raise ConfigError(f"services.{name}", "is not configured") from None

    def client_token(self, name: str | None = None) -> str:
        wanted = name or self.client_token_name
        for token in self.tokens:
            if token.name == wanted:
                return token.value
        raise ConfigError("auth.client_token", f"names token {wanted!r}, which auth.tokens does not define")

    def client_token_spec(self, name: str | None = None) -> TokenSpec:
        wanted = name or self.client_token_name
        for token in self.tokens:
            if token.name == wanted:
                return token
        raise ConfigError("auth.client_token", f"names token {wanted!r}, which auth.tokens does not define")

    def http_url(self, service: str) -> str:
        """The HTTP base URL of an HTTP service (the gateway), from its configured address."""
        return f"http://{self.service(service).address}"

    def services_on_host(self, host: str | None = None) -> list[ServiceEndpoint]:
        host = host or self.this_host
        return [s for s in self.services.values() if s.enabled and (host is None or s.host == host)]

    def log_settings(self) -> dict[str, Any]:
        return self.section("logging")


def _parse_override(value: str) -> Any:
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def apply_env_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    for key, value in env.items():
        if not key.startswith(OVERRIDE_PREFIX):
            continue
        path = [p.lower() for p in key[len(OVERRIDE_PREFIX) :].split("__") if p]
        node = raw
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        if path:
            node[path[-1]] = _parse_override(value)
    return raw


def _require_mapping(value: Any, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(key, f"must be a mapping, got {type(value).__name__}")
    return value


def _port(value: Any, key: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ConfigError(key, f"must be an integer port 0..65535, got {value!r}")
    return value


def _token_source(entry: dict[str, Any], root: Path) -> tuple[Path | None, str | None]:
    if "file" in entry:
        path = Path(str(entry["file"]))
        return (path if path.is_absolute() else root / path), None
    return None, (str(entry["env"]) if "env" in entry else None)


def _resolve_token(entry: dict[str, Any], key: str, root: Path, env: Mapping[str, str]) -> str:
    sources = [s for s in ("value", "env", "file") if s in entry]
    if len(sources) != 1:
        raise ConfigError(key, "needs exactly one of value / env / file")
    source = sources[0]
    if source == "value":
        token = str(entry["value"])
    elif source == "env":
        name = str(entry["env"])
        if name not in env:
            raise ConfigError(key + ".env", f"environment variable {name} is not set")
        token = env[name]
    else:
        path = Path(str(entry["file"]))
        path = path if path.is_absolute() else root / path
        if not path.exists() and entry.get("generate"):
            _create_token_file(path)
        try:
            token = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(key + ".file", f"cannot read {path}: {exc.strerror}") from None
    if len(token) < 8:
        raise ConfigError(key, "token must be at least 8 characters")
    return token


def _create_token_file(path: Path) -> None:
    """Mint a random token once; O_EXCL so concurrent starters agree on one value."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def settings_from_dict(
    raw: dict[str, Any], *, path: Path | None = None, root: Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    env = os.environ if env is None else env
    raw = apply_env_overrides(dict(raw), env)
    root = (root or (path.parent if path else Path.cwd())).resolve()
    source = str(path) if path else "realm.yaml"

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(key, message, source)

    try:
        data_dir = Path(str(raw.get("data_dir", "var")))
        data_dir = data_dir if data_dir.is_absolute() else root / data_dir

        hosts: dict[str, HostSpec] = {}
        for name, spec in _require_mapping(raw.get("hosts"), "hosts").items():
            spec = _require_mapping(spec, f"hosts.{name}")
            address = spec.get("address")
            if not isinstance(address, str) or not address:
                raise fail(f"hosts.{name}.address", "must be a non-empty string")
            roles = spec.get("roles", [])
            if not isinstance(roles, list):
                raise fail(f"hosts.{name}.roles", "must be a list")
            hosts[name] = HostSpec(name, address, tuple(str(r) for r in roles))
        if not hosts:
            raise fail("hosts", "must name at least one host")

        services: dict[str, ServiceEndpoint] = {}
        for name, spec in _require_mapping(raw.get("services"), "services").items():
            if name not in SERVICE_NAMES:
                raise fail(f"services.{name}", f"unknown service; expected one of {', '.join(SERVICE_NAMES)}")
            spec = _require_mapping(spec, f"services.{name}")
            host = spec.get("host")
            if host not in hosts:
                raise fail(f"services.{name}.host", f"names unknown host {host!r}")
            depends = spec.get("depends_on", list(DEFAULT_DEPENDENCIES[name]))
            if not isinstance(depends, list) or any(d not in SERVICE_NAMES for d in depends):
                raise fail(f"services.{name}.depends_on", "must be a list of service names")
            services[name] = ServiceEndpoint(
                name=name,
                host=host,
                connect_host=hosts[host].address,
                bind_host=str(spec.get("bind", hosts[host].address)),
                port=_port(spec.get("port"), f"services.{name}.port"),
                metrics_port=_port(spec.get("metrics_port"), f"services.{name}.metrics_port", optional=True),
                depends_on=tuple(depends),
                enabled=bool(spec.get("enabled", True)),
            )
        for svc in services.values():
            missing = [d for d in svc.depends_on if d not in services]
            if missing:
                raise fail(f"services.{svc.name}.depends_on", f"names unconfigured services {missing}")

        auth = _require_mapping(raw.get("auth"), "auth")
        token_entries = auth.get("tokens", [])
        if not isinstance(token_entries, list) or not token_entries:
            raise fail("auth.tokens", "must be a non-empty list")
        tokens = []
        for index, entry in enumerate(token_entries):
            key = f"auth.tokens[{index}]"
            entry = _require_mapping(entry, key)
            role = entry.get("role")
            if role not in ROLES:
                raise fail(key + ".role", f"must be one of {ROLES}, got {role!r}")
            name = str(entry.get("name", f"token{index}"))
            value = _resolve_token(entry, key, root, env)
            tokens.append(TokenSpec(name, role, value, *_token_source(entry, root)))
        client_token_name = str(auth.get("client_token", next((t.name for t in tokens if t.role == "admin"), "")))

        this_host = raw.get("this_host") or env.get("REALM_HOST")
        if this_host is not None and this_host not in hosts:
            raise fail("this_host", f"names unknown host {this_host!r}")
    except ConfigError as exc:
        if exc.args[0].startswith(source):
            raise
        raise fail(exc.key, str(exc).split(": ", 2)[-1]) from None

    settings = Settings(
        path=path,
        root=root,
        data_dir=data_dir,
        hosts=hosts,
        services=services,
        tokens=tuple(tokens),
        client_token_name=client_token_name,
        raw=raw,
        this_host=this_host,
    )
    settings.client_token()  # fail early when client_token names no token
    return settings


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV, "realm.yaml"))


def load_settings(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    config_path = Path(path) if path else default_config_path()
    try:
        text = config_path.read_text()
    except OSError as exc:
        raise ConfigError("(file)", f"cannot read {config_path}: {exc.strerror}", str(config_path)) from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError("(file)", f"invalid YAML: {exc}", str(config_path)) from None
    if not isinstance(raw, dict):
        raise ConfigError("(file)", "top level must be a mapping", str(config_path))
    return settings_from_dict(raw, path=config_path.resolve(), env=env)
