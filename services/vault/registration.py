"""Making an asset ACTIVE — its REGISTERED event, `latest`, the checkpoint listeners — and registering files
that already live under a zone root, without copying them."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path

from services.kit.errors import AlreadyExists, InvalidArgument, NotFound
from services.vault.aliases import AliasStore
from services.vault.assets import AssetStore, blob_is_live
from services.vault.blobstore import ZoneSet, hash_file
from services.vault.ledger import Ledger, Tx
from services.vault.models import Asset, AssetFile, AssetKind, AssetState, LedgerEventKind, Lineage
from services.vault.paths import clean_relative_path, confined
from services.vault.validation import check_kind, check_labels, check_lineage


class Registrar:
    def __init__(self, ledger: Ledger, assets: AssetStore, aliases: AliasStore, zones: ZoneSet,
                 clock: Callable[[], float]) -> None:
        self._ledger = ledger
        self._assets = assets
        self._aliases = aliases
        self._zones = zones
        self._clock = clock
        # Called (outside any transaction) with the campaign of each checkpoint that becomes ACTIVE.
        self.checkpoint_listeners: list[Callable[[str], None]] = []

    def activate(self, tx: Tx, asset: sqlite3.Row) -> None:
        """Inside the transaction that completes the asset: ACTIVE, REGISTERED, and `latest` moves."""
        self._assets.set_state(tx.db, asset["pk"], AssetState.ACTIVE)
        self._ledger.record(tx, LedgerEventKind.REGISTERED, asset=asset, message=asset["display_name"],
                            attributes={"manifest_digest": asset["manifest_digest"],
                                        "size_bytes": str(asset["size_bytes"]),
                                        "global_step": str(asset["global_step"])})
        self._aliases.advance_latest(tx, asset)

    def announce(self, asset: Asset) -> None:
        """After commit: tell the listeners (the loop's retention) about a new checkpoint of a campaign."""
        if asset.kind == AssetKind.CHECKPOINT and asset.lineage.campaign:
            for listener in self.checkpoint_listeners:
                listener(asset.lineage.campaign)

    def register_in_place(self, *, zone: str, path: str, kind: int, display_name: str = "",
                          lineage: Lineage | None = None, labels: Mapping[str, str] | None = None) -> Asset:
        asset_kind = check_kind(kind)
        lineage = check_lineage(lineage or Lineage())
        labels = check_labels(labels or {})
        store = self._zones.pick(zone)
        clean_relative_path(path.rstrip("/"), "path")
        target = confined(store.root, path.rstrip("/"), "path")
        relative_target = target.relative_to(store.root).as_posix()
        if store.is_reserved(relative_target):
            raise InvalidArgument(f"{path!r} is inside the vault's own blob/staging area", field="path")
        if not target.exists():
            raise NotFound(f"{path!r} does not exist in zone {store.name!r}", field="path")
        files, locations = [], []
        for inner, real in _entries(store.root, target, path):  # hashing is the slow part: no catalog lock
            hasher, size = hash_file(real)
            files.append(AssetFile(inner, size, hasher.hexdigest()))
            locations.append(real.relative_to(store.root).as_posix())
        with self._ledger.transaction() as tx:
            for location in locations:
                if blob_is_live(tx.db, store.name, location):
                    raise AlreadyExists(f"{location!r} is already registered by a live asset", field="path")
            row = self._assets.insert(tx.db, kind=asset_kind, state=AssetState.UPLOADING,
                                      display_name=display_name or target.name, zone=store.name, files=files,
                                      locations=locations, lineage=lineage, labels=labels, in_place=True)
            tx.db.execute("UPDATE assets SET verify_time=? WHERE pk=?", (self._clock(), row["pk"]))
            self.activate(tx, row)
            result = self._assets.refetch(tx.db, row["pk"])
        self.announce(result)
        return result


def _entries(root: Path, target: Path, path: str) -> list[tuple[str, Path]]:
    """(path inside the asset, real file) of a file or directory tree confined to `root`, without symlinks."""
    entries: list[tuple[str, Path]] = []
    if target.is_file():
        entries.append((target.name, target))
    else:
        for directory, subdirs, filenames in os.walk(target, followlinks=False):
            subdirs.sort()
            for sub in list(subdirs):
                if os.path.islink(os.path.join(directory, sub)):
                    raise InvalidArgument(f"{sub!r} under {path!r} is a symlinked directory", field="path")
            for filename in sorted(filenames):
                full = Path(directory, filename)
                inner = full.relative_to(target).as_posix()
                real = confined(root, full.relative_to(root).as_posix(), "path")
                if not real.is_file():
                    raise InvalidArgument(f"{inner!r} is not a regular file", field="path")
                entries.append((inner, real))
    if not entries:
        raise InvalidArgument(f"{path!r} contains no files", field="path")
    return entries
