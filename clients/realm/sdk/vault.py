"""VaultClient: `push` a file or directory into the vault and `pull` an asset back, verified and atomic.

    from realm.sdk import connect
    vault = connect().vault
    asset = vault.push("out/step-100", "checkpoint",
                       lineage={"hero": "heroes/tiny", "campaign": "campaigns/c1", "global_step": 100})
    path = vault.pull("campaigns/c1/aliases/latest", "models/latest")
    for event in vault.ledger(from_now=True):       # ledger events appended from now on, until cancelled
        print(event.sequence, event.kind, event.asset)

Every generated RPC (vault.GetAsset(...), ...) stays available on the same object.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc

from realm.sdk.core import ServiceClient
from realm.vault.v1 import vault_pb2 as pb

CHUNK_BYTES = 2 * 1024 * 1024  # well under the 4 MiB default message limit of any gRPC hop
HASH_BLOCK = 4 * 1024 * 1024
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.ABORTED)
Progress = Callable[[int, int], None]


def asset_kind(kind: int | str) -> int:
    """"checkpoint" / "ASSET_KIND_CHECKPOINT" / 1 -> 1."""
    if isinstance(kind, int):
        return kind
    name = kind.upper()
    return pb.AssetKind.Value(name if name.startswith("ASSET_KIND_") else f"ASSET_KIND_{name}")


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb", buffering=0) as handle:
        while block := handle.read(HASH_BLOCK):
            hasher.update(block)
    return hasher.hexdigest()


def list_files(source: Path) -> list[tuple[str, Path]]:
    """(path inside the asset, local file) for a file or every regular file under a directory, sorted."""
    if source.is_file():
        return [(source.name, source)]
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is neither a file nor a directory")
    found = []
    for directory, subdirs, filenames in os.walk(source):
        subdirs.sort()
        for name in sorted(filenames):
            full = Path(directory, name)
            if full.is_file():
                found.append((full.relative_to(source).as_posix(), full))
    if not found:
        raise FileNotFoundError(f"{source} contains no files")
    return found


class _Tracker:
    """Bytes done per file across parallel streams, reported as one total."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self._progress = progress
        self._done: dict[str, int] = {}
        self._lock = threading.Lock()

    def reset(self, done: dict[str, int]) -> None:
        with self._lock:
            self._done = dict(done)
        self._report()

    def update(self, path: str, done: int) -> None:
        with self._lock:
            self._done[path] = done
        self._report()

    def _report(self) -> None:
        if self._progress:
            with self._lock:
                done = sum(self._done.values())
            self._progress(done, self.total)


class VaultClient(ServiceClient):
    """The vault's generated RPCs plus `push`, `pull` and `ledger`."""

    retries = 5
    # Files of one push travel on this many concurrent streams (and are hashed by as many threads).
    parallel_streams = 3

    def ledger(
        self, after_sequence: int = 0, *, campaign: str = "", kinds: Iterable[int] = (), follow: bool = True,
        from_now: bool = False, timeout: float | None = None,
    ) -> Iterator[pb.LedgerEvent]:
        """Ledger events with sequence > after_sequence, then (with `follow`) new ones as they are appended.
        `from_now` (with after_sequence 0) skips the existing ledger: only events appended after the call."""
        request = pb.WatchLedgerRequest(after_sequence=after_sequence, campaign=campaign, kinds=list(kinds),
                                        history_only=not follow, from_now=from_now)
        for response in self.WatchLedger(request, timeout=timeout):
            yield response.event

    def push(
        self,
        source: str | os.PathLike[str],
        kind: int | str,
        *,
        lineage: Mapping[str, Any] | pb.Lineage | None = None,
        labels: Mapping[str, str] | None = None,
        display_name: str = "",
        zone: str = "",
        request_id: str = "",
        progress: Progress | None = None,
    ) -> pb.Asset:
        """Upload a file or directory as one asset and return it (ACTIVE).

        Files are hashed locally first; the vault skips any blob it already stores (dedup) and the upload
        resumes from the last durable offset when a stream breaks. Passing the same `request_id` again
        (e.g. after the calling process restarted) continues that upload instead of starting a new one.
        `progress(bytes_done, bytes_total)` is called as bytes are acknowledged.
        """
        root = Path(source)
        local = {rel: path for rel, path in list_files(root)}
        with ThreadPoolExecutor(min(self.parallel_streams, len(local))) as pool:  # hashlib releases the GIL
            digests = list(pool.map(sha256_file, local.values()))
        declared = [pb.AssetFile(path=rel, size_bytes=path.stat().st_size, sha256=digest)
                    for (rel, path), digest in zip(local.items(), digests, strict=True)]
        if isinstance(lineage, pb.Lineage):
            lineage_pb = lineage
        else:
            lineage_pb = pb.Lineage(**dict(lineage or {}))
        upload = self.CreateUpload(pb.CreateUploadRequest(
            kind=asset_kind(kind), display_name=display_name or root.name, files=declared, lineage=lineage_pb,
            labels=dict(labels or {}), zone=zone, request_id=request_id or uuid.uuid4().hex)).upload
        if upload.committed:
            return self.GetAsset(pb.GetAssetRequest(name=upload.asset)).asset
        tracker = _Tracker(sum(f.size_bytes for f in upload.files), progress)
        for attempt in range(self.retries + 1):
            tracker.reset({f.path: (f.size_bytes if f.already_stored else f.received_bytes) for f in upload.files})
            todo = [f for f in upload.files if not f.already_stored
                    and (f.received_bytes < f.size_bytes or f.size_bytes == 0)]
            errors: list[grpc.RpcError] = []
            if todo:
                with ThreadPoolExecutor(min(self.parallel_streams, len(todo))) as pool:
                    for future in [pool.submit(self._send_file, upload.name, f, local[f.path], tracker)
                                   for f in todo]:
                        try:
                            future.result()
                        except grpc.RpcError as exc:
                            errors.append(exc)
            if not errors:
                break
            if any(e.code() not in RETRYABLE for e in errors) or attempt == self.retries:
                raise errors[0]
            upload = self.GetUpload(pb.GetUploadRequest(name=upload.name)).upload
        return self.CommitUpload(pb.CommitUploadRequest(name=upload.name)).asset

    def _send_file(self, upload: str, f: pb.FileProgress, path: Path, tracker: _Tracker) -> None:
        offset = f.received_bytes

        def messages() -> Iterator[pb.WriteUploadRequest]:
            yield pb.WriteUploadRequest(header=pb.WriteUploadHeader(upload=upload, path=f.path, offset=offset))
            sent = offset
            with open(path, "rb", buffering=0) as handle:
                handle.seek(offset)
                while block := handle.read(CHUNK_BYTES):
                    yield pb.WriteUploadRequest(chunk=block)
                    sent += len(block)
                    tracker.update(f.path, sent)

        result = self.WriteUpload(messages()).file
        tracker.update(f.path, result.received_bytes)
        if result.received_bytes != f.size_bytes:
            raise RuntimeError(f"{f.path}: vault acknowledged {result.received_bytes} of {f.size_bytes} bytes")

    def pull(
        self,
        asset: str,
        dest_dir: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> Path:
        """Materialise an asset (`assets/{id}` or an alias name) as directory `dest_dir`, atomically.

        Files land in a temporary sibling directory, each one's size and sha256 is checked, and only then is
        the directory renamed into place; on any failure `dest_dir` is untouched. Returns `dest_dir`.
        """
        dest = Path(dest_dir)
        if dest.exists() and not overwrite:
            raise FileExistsError(f"{dest} exists (pass overwrite=True to replace it)")
        info = self.GetAsset(pb.GetAssetRequest(name=asset)).asset
        if info.state != pb.ASSET_STATE_ACTIVE:
            raise RuntimeError(f"{info.name} is {pb.AssetState.Name(info.state)}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.parent / f".{dest.name}.pull-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            tracker = _Tracker(info.size_bytes, progress)
            for f in info.files:
                (staging / f.path).parent.mkdir(parents=True, exist_ok=True)
            with ThreadPoolExecutor(max(1, min(self.parallel_streams, len(info.files)))) as pool:
                for future in [pool.submit(self._fetch_file, info.name, f, staging / f.path, tracker)
                               for f in info.files]:
                    future.result()
            _fsync_tree(staging)
            if dest.exists():
                trash = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
                os.replace(dest, trash)
                os.replace(staging, dest)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.replace(staging, dest)
            _fsync_path(dest.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return dest

    def _fetch_file(self, asset: str, f: pb.AssetFile, target: Path, tracker: _Tracker) -> None:
        hasher = hashlib.sha256()
        received = 0
        with open(target, "wb") as out:
            for attempt in range(self.retries + 1):
                try:
                    request = pb.DownloadFileRequest(asset=asset, path=f.path, offset=received,
                                                   chunk_size=CHUNK_BYTES)
                    for message in self.DownloadFile(request):
                        if message.offset != received:
                            raise RuntimeError(f"{f.path}: chunk at {message.offset}, expected {received}")
                        out.write(message.chunk)
                        hasher.update(message.chunk)
                        received += len(message.chunk)
                        tracker.update(f.path, received)
                    break
                except grpc.RpcError as exc:  # resume this file from the bytes already written
                    if exc.code() not in RETRYABLE or attempt == self.retries:
                        raise
            out.flush()
            os.fsync(out.fileno())
        if received != f.size_bytes or hasher.hexdigest() != f.sha256:
            raise RuntimeError(f"{f.path}: got {received} bytes with sha256 {hasher.hexdigest()}, expected"
                               f" {f.size_bytes} bytes with {f.sha256}")


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for directory, _, _ in os.walk(root):
        _fsync_path(Path(directory))


CLIENT_CLASS = VaultClient
