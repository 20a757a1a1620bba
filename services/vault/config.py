"""Vault configuration: the `vault:` section of realm.yaml, validated where it is built.

    vault:
      zones:                      # storage roots; relative paths resolve against the realm.yaml directory
        hot: {path: var/vault/hot}
        cold: {path: /mnt/nas/realm}
      default_zone: hot
      chunk_bytes: 1048576        # download chunk size
      sync_every_bytes: 67108864  # uploads fsync + record progress at least this often
      verify_interval_s: 0        # > 0: every interval, re-hash the asset verified longest ago
      gc_pause_between_deletions_s: 0   # throttle GC phase 2 (e.g. on a slow NAS)
      upload_ttl_s: 604800        # a full GC run aborts uploads left open longer than this
      retention_after_register: true  # run the campaign's retention in the background after each checkpoint
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.kit.config import ConfigError, Settings

MiB = 1024 * 1024


@dataclass(frozen=True)
class ZoneConfig:
    name: str
    root: Path


@dataclass(frozen=True)
class VaultConfig:
    state_dir: Path
    zones: tuple[ZoneConfig, ...]
    default_zone: str
    chunk_bytes: int = MiB
    sync_every_bytes: int = 64 * MiB
    gc_pause_between_deletions_s: float = 0.0
    upload_ttl_s: float = 7 * 24 * 3600.0
    retention_after_register: bool = True
    verify_interval_s: float = 0.0

    def zone(self, name: str) -> ZoneConfig | None:
        return next((z for z in self.zones if z.name == name), None)

    @classmethod
    def from_settings(cls, settings: Settings) -> VaultConfig:
        return cls.from_section(settings.section("vault"), data_dir=settings.data_dir, root=settings.root)

    @classmethod
    def from_section(cls, section: Mapping[str, Any], *, data_dir: Path, root: Path) -> VaultConfig:
        """The validated `vault:` section; paths resolve against `root` (the realm.yaml directory) and default
        under `data_dir`. Anything invalid is a ConfigError naming its key."""
        if not isinstance(section, Mapping):
            raise ConfigError("vault", "must be a mapping")
        zones_raw = section.get("zones", {"hot": {"path": str(data_dir / "vault" / "zones" / "hot")}})
        if not isinstance(zones_raw, Mapping) or not zones_raw:
            raise ConfigError("vault.zones", "must be a non-empty mapping of zone name -> {path: ...}")
        zones = []
        for name, spec in zones_raw.items():
            if not isinstance(spec, Mapping) or not isinstance(spec.get("path"), str) or not spec["path"]:
                raise ConfigError(f"vault.zones.{name}.path", "must be a non-empty string")
            if not str(name).replace("-", "").replace("_", "").isalnum():
                raise ConfigError(f"vault.zones.{name}", "zone names are letters, digits, '-' and '_'")
            path = Path(spec["path"]).expanduser()
            zones.append(ZoneConfig(str(name), path if path.is_absolute() else root / path))
        state_dir_raw = section.get("state_dir") or data_dir / "vault"
        if not isinstance(state_dir_raw, str | Path):
            raise ConfigError("vault.state_dir", f"must be a path, got {state_dir_raw!r}")
        default_zone = str(section.get("default_zone") or zones[0].name)
        if default_zone not in {z.name for z in zones}:
            raise ConfigError("vault.default_zone", f"names unknown zone {default_zone!r}")
        state_dir = Path(state_dir_raw).expanduser()
        return cls(
            state_dir=state_dir if state_dir.is_absolute() else root / state_dir,
            zones=tuple(zones),
            default_zone=default_zone,
            chunk_bytes=_positive_int(section, "chunk_bytes", MiB, maximum=16 * MiB),
            sync_every_bytes=_positive_int(section, "sync_every_bytes", 64 * MiB),
            gc_pause_between_deletions_s=_non_negative_float(section, "gc_pause_between_deletions_s", 0.0),
            upload_ttl_s=_non_negative_float(section, "upload_ttl_s", 7 * 24 * 3600.0),
            retention_after_register=_bool(section, "retention_after_register", True),
            verify_interval_s=_non_negative_float(section, "verify_interval_s", 0.0),
        )


def _bool(section: Mapping[str, Any], key: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"vault.{key}", f"must be true or false, got {value!r}")
    return value


def _non_negative_float(section: Mapping[str, Any], key: str, default: float) -> float:
    value = section.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"vault.{key}", f"must be a number >= 0, got {value!r}")
    return float(value)


def _positive_int(section: Mapping[str, Any], key: str, default: int, maximum: int | None = None) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"vault.{key}", f"must be a positive integer, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"vault.{key}", f"must be at most {maximum}")
    return value
