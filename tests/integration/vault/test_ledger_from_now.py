"""WatchLedger(from_now=True) over a real vault: only events appended after the call starts, none of the ledger
before it, and no gap after the first one; after_sequence wins over from_now; with history_only it is refused."""

from __future__ import annotations

import queue
import threading

import grpc
import pytest

from realm.vault.v1 import vault_pb2 as pb

pytestmark = pytest.mark.integration


def note(vault, text: str) -> int:
    event = pb.LedgerEvent(kind=pb.LEDGER_EVENT_KIND_NOTE, message=text)
    return vault.AppendLedgerEvent(pb.AppendLedgerEventRequest(event=event)).event.sequence


class Reader:
    """Reads a stream on a thread into a queue, so the test can append while it waits for the first event."""

    def __init__(self, events) -> None:
        self.events = events
        self.received: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self.events:
                self.received.put(event)
        except grpc.RpcError as exc:
            self.received.put(exc)

    def next(self, timeout: float = 30.0):
        item = self.received.get(timeout=timeout)
        if isinstance(item, grpc.RpcError):
            raise item
        return item


def test_from_now_skips_the_ledger_and_then_misses_nothing(realm):
    vault = realm.vault
    before = [note(vault, f"old {i}") for i in range(4)]
    call = vault.WatchLedger(pb.WatchLedgerRequest(from_now=True))
    reader = Reader(response.event for response in call)
    try:
        # Append probes until the stream delivers one: a probe appended before the call started is not sent.
        probes = []
        while True:
            probes.append(note(vault, "probe"))
            try:
                first = reader.received.get(timeout=0.2)
                break
            except queue.Empty:
                continue
        assert not isinstance(first, grpc.RpcError), first
        assert first.sequence in probes and first.sequence > before[-1] and first.message == "probe"
        last = note(vault, "after")
        seen = [first.sequence]
        while seen[-1] != last:
            seen.append(reader.next().sequence)
        assert seen == list(range(first.sequence, last + 1))
    finally:
        call.cancel()


def test_the_sdk_helper_and_after_sequence_win_over_from_now(realm):
    vault = realm.vault
    written = [note(vault, f"n{i}") for i in range(3)]
    assert [e.sequence for e in vault.ledger(written[0], follow=False, from_now=True)] == written[1:]
    assert [e.sequence for e in vault.ledger(follow=False)][-3:] == written


def test_from_now_with_history_only_is_a_caller_error(realm):
    with pytest.raises(grpc.RpcError) as info:
        list(realm.vault.WatchLedger(pb.WatchLedgerRequest(from_now=True, history_only=True)))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith("from_now:"), info.value.details()
