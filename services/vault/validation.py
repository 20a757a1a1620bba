"""Checks of what a caller declares about an asset (kind, lineage, labels, files), each naming its field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from services.kit.errors import InvalidArgument
from services.vault import names
from services.vault.blobstore import EMPTY_SHA256
from services.vault.models import AssetFile, AssetKind, Lineage
from services.vault.paths import clean_relative_path


def check_kind(kind: int, field: str = "kind") -> AssetKind:
    try:
        value = AssetKind(kind)
    except ValueError:
        raise InvalidArgument(f"unknown asset kind {kind}", field=field) from None
    if value == AssetKind.UNSPECIFIED:
        raise InvalidArgument("must be set", field=field)
    return value


def check_lineage(lineage: Lineage, field: str = "lineage") -> Lineage:
    """The lineage with hero and campaign as resource names; source and parent must be asset names."""
    if lineage.global_step < 0:
        raise InvalidArgument("must be >= 0", field=f"{field}.global_step")
    for index, source in enumerate(lineage.source_assets):
        names.asset_id(source, f"{field}.source_assets[{index}]")
    if lineage.parent_checkpoint:
        names.asset_id(lineage.parent_checkpoint, f"{field}.parent_checkpoint")
    return replace(
        lineage,
        hero=names.hero_name(lineage.hero, f"{field}.hero"),
        campaign=names.campaign_name(lineage.campaign, f"{field}.campaign"),
        source_assets=tuple(lineage.source_assets),
        metrics=dict(lineage.metrics),
    )


def check_labels(labels: Mapping[str, str], field: str = "labels") -> dict[str, str]:
    for key in labels:
        if not key or len(key) > 63 or not all(c.isalnum() or c in "._-/" for c in key):
            raise InvalidArgument(f"label key {key!r} must be 1-63 chars of [A-Za-z0-9._-/]", field=field)
    return dict(labels)


def check_files(files: Sequence[AssetFile], field: str = "files") -> list[AssetFile]:
    if not files:
        raise InvalidArgument("an asset needs at least one file", field=field)
    seen: set[str] = set()
    for index, f in enumerate(files):
        where = f"{field}[{index}]"
        clean_relative_path(f.path, f"{where}.path")
        if f.path in seen:
            raise InvalidArgument(f"duplicate path {f.path!r}", field=f"{where}.path")
        seen.add(f.path)
        if f.size_bytes < 0:
            raise InvalidArgument("must be >= 0", field=f"{where}.size_bytes")
        names.check_sha256(f.sha256, f"{where}.sha256")
        if f.size_bytes == 0 and f.sha256 != EMPTY_SHA256:
            raise InvalidArgument("an empty file has sha256 " + EMPTY_SHA256, field=f"{where}.sha256")
    return list(files)
