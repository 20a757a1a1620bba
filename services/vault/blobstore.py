"""Files of a zone: content-addressed blobs, upload staging, durable moves and hashing.

Layout under a zone root:
    blobs/<aa>/<bb>/<sha256>        one file per distinct content (uploads land here at commit)
    .staging/<upload>/<index>.part  bytes of an upload in progress
    anything else                   files registered in place (owned by the vault once registered)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from services.kit.errors import InvalidArgument
from services.vault.config import ZoneConfig

BLOB_DIR = "blobs"
STAGING_DIR = ".staging"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
READ_BLOCK = 4 * 1024 * 1024


class Zone:
    def __init__(self, config: ZoneConfig) -> None:
        self.name = config.name
        config.root.mkdir(parents=True, exist_ok=True)
        self.root = config.root.resolve()
        (self.root / BLOB_DIR).mkdir(exist_ok=True)
        (self.root / STAGING_DIR).mkdir(exist_ok=True)

    @staticmethod
    def blob_location(sha256: str) -> str:
        return f"{BLOB_DIR}/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def absolute(self, location: str) -> Path:
        return self.root / location

    def staging_dir(self, upload_id: str) -> Path:
        return self.root / STAGING_DIR / upload_id

    def part_path(self, upload_id: str, index: int) -> Path:
        return self.staging_dir(upload_id) / f"{index}.part"

    @staticmethod
    def is_reserved(relative: str) -> bool:
        return relative.split("/", 1)[0] in (BLOB_DIR, STAGING_DIR)


class ZoneSet(Mapping[str, Zone]):
    """The configured zones by name, with the default zone for requests that name none."""

    def __init__(self, configs: Sequence[ZoneConfig], default: str) -> None:
        self._zones = {z.name: Zone(z) for z in configs}
        self.default = default

    def __getitem__(self, name: str) -> Zone:
        return self._zones[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._zones)

    def __len__(self) -> int:
        return len(self._zones)

    def pick(self, name: str, field: str = "zone") -> Zone:
        """The zone a request names (the default when empty); an unknown name is INVALID_ARGUMENT `field`."""
        zone = self._zones.get(name or self.default)
        if zone is None:
            raise InvalidArgument(f"unknown zone {name!r}; configured: {sorted(self._zones)}", field=field)
        return zone


def hash_file(path: Path, limit: int | None = None) -> tuple[hashlib._Hash, int]:
    """sha256 state and byte count of the first `limit` bytes (all when None)."""
    hasher = hashlib.sha256()
    done = 0
    with open(path, "rb", buffering=0) as handle:
        while limit is None or done < limit:
            want = READ_BLOCK if limit is None else min(READ_BLOCK, limit - done)
            block = handle.read(want)
            if not block:
                break
            hasher.update(block)
            done += len(block)
    return hasher, done


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def install_blob(part: Path, destination: Path) -> None:
    """Move a finished, fsynced part file to its blob location durably (rename + directory fsync)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, destination)
    fsync_dir(destination.parent)


def write_empty_blob(destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(destination.name + ".tmp")
    with open(tmp, "wb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, destination)
    fsync_dir(destination.parent)
