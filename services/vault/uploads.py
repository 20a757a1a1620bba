"""Writing one file of an upload: hash while writing, durable progress, resumable after any interruption.

The writer knows nothing of the catalog: it reports progress through a `ProgressRecorder` and coordinates
with other streams through `WriterSlots`, both given to it by the upload store.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from services.kit.errors import Aborted, FailedPrecondition, InvalidArgument
from services.vault.blobstore import hash_file
from services.vault.models import FileProgress

# Background fsyncs of uploads in progress (see UploadWriter._checkpoint_in_background).
_SYNC_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="vault-fsync")

# (upload pk, file index): one file of one upload.
FileKey = tuple[int, int]


class ProgressRecorder(Protocol):
    def record_progress(self, key: FileKey, received: int, verified: bool) -> None:
        """Durably record that `received` bytes of the file are on disk (and whether they hash right)."""


class WriterSlots:
    """Which files are being written right now (one stream per file), and the hash state each stream that
    ended early left behind, so the resuming stream needs no re-read of the part file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writing: set[FileKey] = set()
        self._hashes: dict[FileKey, tuple[int, Any]] = {}

    def claim(self, key: FileKey, path: str) -> None:
        with self._lock:
            if key in self._writing:
                raise Aborted(f"{path!r} is being written by another stream", field="header.path")
            self._writing.add(key)

    def release(self, key: FileKey) -> None:
        with self._lock:
            self._writing.discard(key)

    def is_writing(self, key: FileKey) -> bool:
        with self._lock:
            return key in self._writing

    def park_hash(self, key: FileKey, received: int, hasher: Any) -> None:
        with self._lock:
            self._hashes[key] = (received, hasher)

    def take_hash(self, key: FileKey) -> tuple[int, Any] | None:
        with self._lock:
            return self._hashes.pop(key, None)

    def forget(self, key: FileKey) -> None:
        with self._lock:
            self._hashes.pop(key, None)


class UploadWriter:
    """Writes one file of an upload, hashing as it goes; progress is durable at every checkpoint.

    Bytes past the last recorded checkpoint are discarded on resume (the file is truncated to the recorded
    received_bytes), so a crash can lose at most `sync_every_bytes` of work, never corrupt it.
    """

    def __init__(self, slots: WriterSlots, recorder: ProgressRecorder, key: FileKey, path: str, size: int,
                 sha256: str, part: Path, offset: int, *, done: bool, sync_every_bytes: int) -> None:
        """Takes over the slot of `key` (claimed by the caller) and releases it on close or failure."""
        self._slots = slots
        self._recorder = recorder
        self._sync_every_bytes = sync_every_bytes
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
        cached = slots.take_hash(key)
        self._handle = open(part, "r+b" if part.exists() else "w+b")  # noqa: SIM115
        self._handle.truncate(offset)
        if cached is not None and cached[0] == offset:
            self._hasher = cached[1]
        else:
            self._hasher, got = hash_file(part, offset)
            if got != offset:
                self._handle.close()
                slots.release(key)
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
        elif self.received - self._sync_requested >= self._sync_every_bytes:
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
        self._recorder.record_progress(self._key, upto, False)
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
            self._recorder.record_progress(self._key, 0, False)
            self.received = self._synced = self._sync_requested = 0
            self._hasher = hashlib.sha256()
            self._handle.seek(0)
            raise InvalidArgument(f"{self.path!r}: received bytes hash to {actual}, declared {self.sha256};"
                                  " progress reset to 0", field="chunk")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._recorder.record_progress(self._key, self.received, True)
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
                    self._slots.park_hash(self._key, self.received, self._hasher)
        finally:
            self._slots.release(self._key)
        return self.progress()
