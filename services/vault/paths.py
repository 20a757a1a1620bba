"""Relative paths inside assets and zones: no absolute paths, no '..', no escaping a root through symlinks."""

from __future__ import annotations

import os
from pathlib import Path

from services.kit.errors import InvalidArgument


def clean_relative_path(raw: str, field: str) -> str:
    """Validate an asset-relative path ("a/b.bin"); the returned form is the canonical one stored."""
    if not raw:
        raise InvalidArgument("must not be empty", field=field)
    if "\x00" in raw or "\\" in raw:
        raise InvalidArgument(f"{raw!r} contains a NUL or backslash", field=field)
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise InvalidArgument(f"{raw!r} is absolute; paths are relative", field=field)
    parts = raw.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidArgument(f"{raw!r} has an empty, '.' or '..' component", field=field)
    return raw


def confined(root: Path, relative: str, field: str) -> Path:
    """The real path of `relative` under `root`; symlinks are resolved and must stay under the root."""
    real_root = root.resolve()
    target = Path(os.path.realpath(real_root / relative))
    if target != real_root and not target.is_relative_to(real_root):
        raise InvalidArgument(f"{relative!r} resolves outside the zone root (symlink escape)", field=field)
    return target
