"""UploadWriter on its own: progress goes to whatever ProgressRecorder it is given, never to a domain."""

from __future__ import annotations

import hashlib
import os

import pytest

from services.kit.errors import Aborted, InvalidArgument
from services.vault.uploads import FileKey, UploadWriter, WriterSlots


class MemoryRecorder:
    """A ProgressRecorder that keeps what it was told, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[FileKey, int, bool]] = []

    def record_progress(self, key: FileKey, received: int, verified: bool) -> None:
        self.calls.append((key, received, verified))


def open_writer(slots, recorder, part, data, offset=0, sync_every_bytes=1 << 20):
    slots.claim((1, 0), "f")
    return UploadWriter(slots, recorder, (1, 0), "f", len(data), hashlib.sha256(data).hexdigest(), part, offset,
                        done=False, sync_every_bytes=sync_every_bytes)


def test_a_complete_file_is_recorded_verified_and_the_slot_released(tmp_path):
    data = os.urandom(5000)
    slots, recorder = WriterSlots(), MemoryRecorder()
    writer = open_writer(slots, recorder, tmp_path / "s" / "0.part", data)
    assert slots.is_writing((1, 0))
    writer.write(data)
    progress = writer.close()
    assert recorder.calls == [((1, 0), 5000, True)]
    assert progress.received_bytes == 5000 and writer.done
    assert not slots.is_writing((1, 0))
    assert (tmp_path / "s" / "0.part").read_bytes() == data


def test_a_broken_stream_records_what_arrived_and_parks_its_hash_for_the_resume(tmp_path):
    data = os.urandom(9000)
    slots, recorder = WriterSlots(), MemoryRecorder()
    part = tmp_path / "0.part"
    writer = open_writer(slots, recorder, part, data)
    writer.write(data[:4000])
    writer.close()
    assert recorder.calls == [((1, 0), 4000, False)]
    parked = slots.take_hash((1, 0))
    assert parked is not None and parked[0] == 4000
    slots.park_hash((1, 0), *parked)
    resumed = open_writer(slots, recorder, part, data, offset=4000)
    assert slots.take_hash((1, 0)) is None  # the resume took the parked state
    resumed.write(data[4000:])
    resumed.close()
    assert recorder.calls[-1] == ((1, 0), 9000, True)
    assert part.read_bytes() == data


def test_one_stream_per_file(tmp_path):
    data = b"x" * 10
    slots, recorder = WriterSlots(), MemoryRecorder()
    writer = open_writer(slots, recorder, tmp_path / "0.part", data)
    with pytest.raises(Aborted) as info:
        slots.claim((1, 0), "f")
    assert info.value.field == "header.path"
    writer.close()
    slots.claim((1, 0), "f")


def test_bytes_that_hash_wrong_reset_the_recorded_progress(tmp_path):
    declared = b"a" * 100
    slots, recorder = WriterSlots(), MemoryRecorder()
    writer = open_writer(slots, recorder, tmp_path / "0.part", declared)
    with pytest.raises(InvalidArgument) as info:
        writer.write(b"b" * 100)
    assert info.value.field == "chunk"
    assert recorder.calls == [((1, 0), 0, False)]
    writer.close()
    assert not slots.is_writing((1, 0))


def test_progress_is_recorded_every_sync_every_bytes(tmp_path):
    data = os.urandom(10_000)
    slots, recorder = WriterSlots(), MemoryRecorder()
    writer = open_writer(slots, recorder, tmp_path / "0.part", data, sync_every_bytes=3000)
    for start in range(0, 9000, 1000):
        writer.write(data[start:start + 1000])
    writer.close()  # waits for the background flush, then records the tail
    received = [r for _, r, verified in recorder.calls if not verified]
    assert received and received[0] >= 3000 and received[-1] == 9000
    assert received == sorted(received)
