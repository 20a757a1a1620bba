"""Disk use of the data directories on the warden's host (blocking: callers run it in a thread)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from services.warden.fleet import DiskUsage, disk_level


def nearest_existing(path: Path) -> Path:
    """A directory not created yet (a vault zone before its first blob) is measured on the disk that will hold it."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def measure(paths: Iterable[Path], warn_percent: float, critical_percent: float) -> list[DiskUsage]:
    usages = []
    for path in paths:
        usage = shutil.disk_usage(nearest_existing(path))
        used_percent = 100.0 * usage.used / usage.total if usage.total else 0.0
        usages.append(DiskUsage(str(path), usage.total, usage.used, usage.free,
                                disk_level(used_percent, warn_percent, critical_percent)))
    return usages
