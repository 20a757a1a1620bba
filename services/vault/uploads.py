"""Writing one file of an upload: hash while writing, durable progress, resumable after any interruption."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from services.kit.errors import FailedPrecondition, InvalidArgument
from services.vault.blobstore import hash_file
from services.vault.models import FileProgress

if TYPE_CHECKING:
    from services.vault.domain import VaultDomain

# Background fsyncs of uploads in progress (see UploadWriter._checkpoint_in_background).
_SYNC_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="vault-fsync")


class UploadWriter:
    """Writes one file of an upload, hashing as it goes; progress is durable at every checkpoint.

    Bytes past the last recorded checkpoint are discarded on resume (the file is truncated to the recorded
    received_bytes), so a crash can lose at most `sync_every_bytes` of work, never corrupt it.
    """

    def __init__(self, domain: VaultDomain, key: tuple[int, int], path: str, size: int, sha256: str, part: Path,
                 offset: int, *, done: bool) -> None:
        self._domain = domain
        self._key = key
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.received = offset
        self.done = done
        self._synced = offset
        self._sync_requested = offset
        self._background: Future[None] | None = None
        self._closed = False
        self._handle: BinaryIO | None = None
        if done:
            return
        part.parent.mkdir(parents=True, exist_ok=True)
        cached = domain._hash_cache.pop(key, None)
        self._handle = open(part, "r+b" if part.exists() else "w+b")  # noqa: SIM115
        self._handle.truncate(offset)
        if cached is not None and cached[0] == offset:
            self._hasher = cached[1]
        else:
            self._hasher, got = hash_file(part, offset)
            if got != offset:
                self._handle.close()
                domain._release_writer(key)
                raise FailedPrecondition(f"part file of {path!r} holds {got} bytes, expected {offset}",
                                         field="header.offset")
        self._handle.seek(offset)

    def write(self, chunk: bytes) -> None:
        if self.done or self._handle is None:
            raise InvalidArgument(f"{self.path!r} is already complete", field="chunk")
        if self.received + len(chunk) > self.size:
            raise InvalidArgument(f"{self.path!r} would exceed its declared size {self.size}", field="chunk")
        self._handle.write(chunk)
        self._hasher.update(chunk)
        self.received += len(chunk)
        if self.received == self.size:
            self._complete()
        elif self.received - self._sync_requested >= self._domain.config.sync_every_bytes:
            self._checkpoint_in_background()

    def _checkpoint_in_background(self) -> None:
        """fsync + record progress on another thread, so the disk flush overlaps receiving more bytes."""
        assert self._handle is not None
        if self._background is not None and not self._background.done():
            return  # one flush at a time; the next threshold crossing retries
        self._handle.flush()
        upto = self._sync_requested = self.received
        self._background = _SYNC_POOL.submit(self._make_durable, self._handle.fileno(), upto)

    def _make_durable(self, fd: int, upto: int) -> None:
        os.fsync(fd)  # covers every byte written before the call, i.e. at least `upto`
        self._domain._record_progress(self._key, upto, False)
        self._synced = upto

    def _wait_background(self) -> None:
        if self._background is not None:
            self._background.result()
            self._background = None

    def _checkpoint(self) -> None:
        assert self._handle is not None
        self._wait_background()
        self._handle.flush()
        self._make_durable(self._handle.fileno(), self.received)
        self._sync_requested = self.received

    def _complete(self) -> None:
        assert self._handle is not None
        self._wait_background()
        actual = self._hasher.hexdigest()
        if actual != self.sha256:
            self._handle.truncate(0)
            self._domain._record_progress(self._key, 0, False)
            self.received = self._synced = self._sync_requested = 0
            self._hasher = hashlib.sha256()
            self._handle.seek(0)
            raise InvalidArgument(f"{self.path!r}: received bytes hash to {actual}, declared {self.sha256};"
                                  " progress reset to 0", field="chunk")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._domain._record_progress(self._key, self.received, True)
        self._synced = self.received
        self.done = True

    def progress(self) -> FileProgress:
        return FileProgress(self.path, self.size, self._synced, False)

    def close(self) -> FileProgress:
        """End of stream (normal or broken): make what arrived durable, then release the file."""
        if self._closed:
            return self.progress()
        self._closed = True
        try:
            if self._handle is not None:
                self._wait_background()
                if not self.done and self.received > self._synced:
                    self._checkpoint()
                self._handle.close()
                if not self.done:
                    self._domain._hash_cache[self._key] = (self.received, self._hasher)
        finally:
            self._domain._release_writer(self._key)
        return self.progress()
