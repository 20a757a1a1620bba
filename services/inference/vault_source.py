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
from pathlib import Path

from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound, RealmError

COMPLETE_MARKER = ".realm-pulled.json"


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


class VaultCheckpointCache:
    def __init__(self, vault_client, cache_dir: Path) -> None:
        self._vault = vault_client
        self._cache_dir = Path(cache_dir)
        self._cache_dir.mkdir(parents=True, exist_ok=True)

    def resolve(self, source: str) -> str:
        """The asset name (`assets/…`) a source stands for."""
        if source.startswith("assets/"):
            return source
        if "/aliases/" not in source:
            raise InvalidArgument("a vault source is assets/{asset} or campaigns/{campaign}/aliases/{alias}",
                                  field="source")
        try:
            response = self._vault.ResolveAlias(self._vault.messages.ResolveAliasRequest(name=source))
        except Exception as error:
            raise _grpc_failure(error) from error
        return response.alias.asset or response.asset.name

    def fetch(self, source: str) -> tuple[Path, str]:
        """(local checkpoint directory, asset name); pulls only what is not cached yet."""
        asset = self.resolve(source)
        destination = self._cache_dir / _slug(asset)
        if (destination / COMPLETE_MARKER).is_file():
            return destination, asset
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
            if destination.exists():  # an interrupted earlier pull without its marker
                shutil.rmtree(destination)
            os.replace(staging, destination)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return destination, asset
