"""Warden configuration: the `warden:` section of realm.yaml, validated where it is built.

    warden:
      probe_timeout_seconds: 1.5     # deadline of each health Check (first contact, and the Check fallback)
      probe_interval_seconds: 2.0    # Check period for services without a health Watch (and the HTTP gateway)
      keepalive_seconds: 1.0         # HTTP/2 keepalive ping on each Watch stream: a cut link shows within ~2x this
      backoff_initial_seconds: 0.25  # reconnect backoff after a broken stream, doubled up to the maximum
      backoff_max_seconds: 2.0
      alert_after_seconds: 30        # a critical service down this long raises an alert
      critical_services: [vault, trainer, inference, curriculum, gateway]
      disk:
        paths: []                    # data directories to watch; default: data_dir and the vault's zones
        warn_percent: 85
        critical_percent: 95
        interval_seconds: 30
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.kit.config import SERVICE_NAMES, ConfigError

DEFAULT_CRITICAL = ("vault", "trainer", "inference", "curriculum", "gateway")


@dataclass(frozen=True)
class DiskConfig:
    paths: tuple[Path, ...]
    warn_percent: float = 85.0
    critical_percent: float = 95.0
    interval_seconds: float = 30.0


@dataclass(frozen=True)
class WardenConfig:
    disk: DiskConfig
    probe_timeout_seconds: float = 1.5
    probe_interval_seconds: float = 2.0
    keepalive_seconds: float = 1.0
    backoff_initial_seconds: float = 0.25
    backoff_max_seconds: float = 2.0
    alert_after_seconds: float = 30.0
    critical_services: tuple[str, ...] = DEFAULT_CRITICAL

    @classmethod
    def from_section(cls, section: Mapping[str, Any], *, default_disk_paths: tuple[Path, ...] = (),
                     root: Path = Path(".")) -> WardenConfig:
        critical = section.get("critical_services", list(DEFAULT_CRITICAL))
        if not isinstance(critical, list) or any(name not in SERVICE_NAMES for name in critical):
            raise ConfigError("warden.critical_services", f"must be a list of service names ({', '.join(SERVICE_NAMES)})")
        backoff_initial = _positive(section, "backoff_initial_seconds", 0.25)
        backoff_max = _positive(section, "backoff_max_seconds", 2.0)
        if backoff_max < backoff_initial:
            raise ConfigError("warden.backoff_max_seconds", "must be at least backoff_initial_seconds")
        return cls(
            disk=_disk(section.get("disk", {}), default_disk_paths, root),
            probe_timeout_seconds=_positive(section, "probe_timeout_seconds", 1.5),
            probe_interval_seconds=_positive(section, "probe_interval_seconds", 2.0),
            keepalive_seconds=_positive(section, "keepalive_seconds", 1.0),
            backoff_initial_seconds=backoff_initial,
            backoff_max_seconds=backoff_max,
            alert_after_seconds=_positive(section, "alert_after_seconds", 30.0, allow_zero=True),
            critical_services=tuple(critical),
        )


def _disk(raw: Any, default_paths: tuple[Path, ...], root: Path) -> DiskConfig:
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise ConfigError("warden.disk", "must be a mapping")
    paths_raw = raw.get("paths") or []
    if not isinstance(paths_raw, list) or any(not isinstance(p, str) or not p for p in paths_raw):
        raise ConfigError("warden.disk.paths", "must be a list of directory paths")
    paths = tuple(_resolve(Path(p), root) for p in paths_raw) or default_paths
    warn = _positive(raw, "warn_percent", 85.0, prefix="warden.disk.")
    critical = _positive(raw, "critical_percent", 95.0, prefix="warden.disk.")
    if not warn < critical <= 100:
        raise ConfigError("warden.disk.critical_percent", f"must be above warn_percent ({warn}) and at most 100")
    return DiskConfig(tuple(dict.fromkeys(paths)), warn, critical,
                      _positive(raw, "interval_seconds", 30.0, prefix="warden.disk."))


def _resolve(path: Path, root: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else root / path


def _positive(section: Mapping[str, Any], key: str, default: float, *, prefix: str = "warden.",
              allow_zero: bool = False) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(prefix + key, f"must be a {'non-negative' if allow_zero else 'positive'} number, got {value!r}")
    return float(value)
