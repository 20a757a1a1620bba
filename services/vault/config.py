"""Vault configuration: the `vault:` section of realm.yaml, validated where it is built.

    vault:
      zones:                      # storage roots; relative paths resolve against the realm.yaml directory
        hot: {path: var/vault/hot}
        cold: {path: /mnt/nas/realm}
      default_zone: hot
      chunk_bytes: 1048576        # download chunk size
      sync_every_bytes: 67108864  # uploads fsync + record progress at least this often
      gc_pause_between_deletions_s: 0   # throttle GC phase 2 (e.g. on a slow NAS)
      upload_ttl_s: 604800        # a full GC run aborts uploads left open longer than this
      retention_after_register: true  # run the campaign's retention in the background after each checkpoint
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.kit.config import ConfigError

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

    def zone(self, name: str) -> ZoneConfig | None:
        return next((z for z in self.zones if z.name == name), None)

    @classmethod
    def from_section(cls, section: Mapping[str, Any], *, data_dir: Path, root: Path) -> VaultConfig:
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
        default_zone = str(section.get("default_zone") or zones[0].name)
        if default_zone not in {z.name for z in zones}:
            raise ConfigError("vault.default_zone", f"names unknown zone {default_zone!r}")
        state_dir = Path(str(section.get("state_dir") or data_dir / "vault"))
        return cls(
            state_dir=state_dir if state_dir.is_absolute() else root / state_dir,
            zones=tuple(zones),
            default_zone=default_zone,
            chunk_bytes=_positive_int(section, "chunk_bytes", MiB, maximum=16 * MiB),
            sync_every_bytes=_positive_int(section, "sync_every_bytes", 64 * MiB),
            gc_pause_between_deletions_s=float(section.get("gc_pause_between_deletions_s", 0.0)),
            upload_ttl_s=float(section.get("upload_ttl_s", 7 * 24 * 3600.0)),
            retention_after_register=_bool(section, "retention_after_register", True),
        )


def _bool(section: Mapping[str, Any], key: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"vault.{key}", f"must be true or false, got {value!r}")
    return value


def _positive_int(section: Mapping[str, Any], key: str, default: int, maximum: int | None = None) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"vault.{key}", f"must be a positive integer, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"vault.{key}", f"must be at most {maximum}")
    return value
