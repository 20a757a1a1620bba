"""Opening one file of an ACTIVE asset for streaming from an offset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.vault.assets import AssetStore
from services.vault.blobstore import ZoneSet
from services.vault.catalog import Catalog
from services.vault.models import AssetFile, AssetState


@dataclass(frozen=True)
class Download:
    file: AssetFile
    handle: BinaryIO
    offset: int


def open_download(catalog: Catalog, assets: AssetStore, zones: ZoneSet, asset: str, path: str,
                  offset: int = 0) -> Download:
    """The file positioned at `offset`; CORRUPT (and any non-ACTIVE) assets are refused."""
    with catalog.reading() as db:
        row = assets.row(db, asset, "asset")
        if row["state"] != AssetState.ACTIVE:
            raise FailedPrecondition(f"asset is {AssetState(row['state']).name}; downloads are refused",
                                     field="asset")
        f = assets.file(db, row["pk"], path)
        if f is None:
            raise NotFound(f"{path!r} is not a file of {asset}", field="path")
        if offset < 0 or offset > f["size_bytes"]:
            raise InvalidArgument(f"must be within 0..{f['size_bytes']}", field="offset")
        # Opened under the lock: a concurrent GC may unlink the name later, the open handle stays valid.
        handle = open(zones[f["zone"]].absolute(f["location"]), "rb")  # noqa: SIM115
    handle.seek(offset)
    return Download(AssetFile(f["path"], f["size_bytes"], f["sha256"]), handle, offset)
