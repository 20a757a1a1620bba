"""Checkpoints from the vault: resolve an asset or alias, pull it once into a local cache, reuse it after.

The vault client's `pull` verifies every file's sha256 against the manifest while it downloads; we pull into
a temporary directory and rename it into place only when the pull succeeded, so a cache directory with the
completion marker is always a whole, verified checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import structlog

from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound, RealmError

COMPLETE_MARKER = ".realm-pulled.json"
log = structlog.get_logger(__name__)


def is_vault_source(source: str) -> bool:
    return source.startswith(("assets/", "campaigns/"))


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")


def _grpc_failure(error: Exception) -> RealmError:
    """Map a vault call failure (the SDK raises grpc errors; no grpc import here) to a domain error."""
    code = getattr(error, "code", None)
    name = getattr(code(), "name", "") if callable(code) else ""
    details = error.details() if callable(getattr(error, "details", None)) else str(error)
    if name == "NOT_FOUND":
        return NotFound(f"vault: {details}", field="source")
    return FailedPrecondition(f"vault: {name or type(error).__name__}: {details}", field="source")


@dataclass(frozen=True)
class PulledCheckpoint:
    path: Path
    asset: str
    # From the vault lineage (informational: empty / 0 when the vault does not say).
    parent: str = ""
    global_step: int = 0


def _lineage(asset_message) -> tuple[str, int]:
    lineage = getattr(asset_message, "lineage", None)
    if lineage is None:
        return "", 0
    return str(getattr(lineage, "parent_checkpoint", "") or ""), int(getattr(lineage, "global_step", 0) or 0)


class VaultCheckpointCache:
    def __init__(self, vault_client, cache_dir: Path) -> None:
        self._vault = vault_client
        self._cache_dir = Path(cache_dir)
        self._cache_dir.mkdir(parents=True, exist_ok=True)

    def resolve(self, source: str) -> str:
        """The asset name (`assets/…`) a source stands for."""
        return self._resolve(source)[0]

    def _resolve(self, source: str) -> tuple[str, str, int]:
        """(asset name, parent checkpoint, global step) of a source."""
        if source.startswith("assets/"):
            return (source, *self._describe(source))
        if "/aliases/" not in source:
            raise InvalidArgument("a vault source is assets/{asset} or campaigns/{campaign}/aliases/{alias}",
                                  field="source")
        try:
            response = self._vault.ResolveAlias(self._vault.messages.ResolveAliasRequest(name=source))
        except Exception as error:
            raise _grpc_failure(error) from error
        return (response.alias.asset or response.asset.name, *_lineage(response.asset))

    def _describe(self, asset: str) -> tuple[str, int]:
        """Lineage of an asset named directly; best effort, since it only decorates the model resource."""
        try:
            response = self._vault.GetAsset(self._vault.messages.GetAssetRequest(name=asset))
        except Exception as error:  # a missing asset is reported by the pull that follows
            log.info("no lineage for asset", asset=asset, error=str(error))
            return "", 0
        return _lineage(response.asset)

    def fetch(self, source: str) -> tuple[Path, str]:
        """(local checkpoint directory, asset name); pulls only what is not cached yet."""
        pulled = self.fetch_checkpoint(source)
        return pulled.path, pulled.asset

    def fetch_checkpoint(self, source: str) -> PulledCheckpoint:
        """The checkpoint a source stands for, pulled into the cache unless it is there already."""
        asset, parent, step = self._resolve(source)
        return PulledCheckpoint(self._pull(asset, source), asset, parent, step)

    def _pull(self, asset: str, source: str) -> Path:
        destination = self._cache_dir / _slug(asset)
        if (destination / COMPLETE_MARKER).is_file():
            return destination
        staging = self._cache_dir / f".pull-{_slug(asset)}-{uuid.uuid4().hex[:8]}"
        try:
            try:
                self._vault.pull(asset, staging)
            except RealmError:
                raise
            except Exception as error:
                raise _grpc_failure(error) from error
            marker = staging / COMPLETE_MARKER
            marker.write_text(json.dumps({"asset": asset, "source": source}) + "\n")
            with open(marker, "rb") as handle:
                os.fsync(handle.fileno())
            if (destination / COMPLETE_MARKER).is_file():  # a concurrent load of the same asset won the race
                return destination
            if destination.exists():  # an interrupted earlier pull without its marker
                shutil.rmtree(destination)
            os.replace(staging, destination)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return destination
