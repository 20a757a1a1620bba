"""Wakes ledger watchers (asyncio or threads) when a new sequence is committed."""

from __future__ import annotations

import asyncio
import threading


class SequenceNotifier:
    """Holds the highest committed ledger sequence; `wait_beyond` returns once it exceeds a value.

    `publish` may be called from any thread (the domain runs in worker threads); asyncio waiters are
    woken through their loop's call_soon_threadsafe.
    """

    def __init__(self, initial: int = 0) -> None:
        self._latest = initial
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()
        self._condition = threading.Condition(self._lock)
        self._closed = False

    @property
    def latest(self) -> int:
        return self._latest

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, sequence: int) -> None:
        with self._lock:
            if sequence <= self._latest:
                return
            self._latest = sequence
            waiters, self._waiters = self._waiters, set()
            self._condition.notify_all()
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            waiters, self._waiters = self._waiters, set()
            self._condition.notify_all()
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)

    async def wait_beyond(self, sequence: int, timeout: float | None = None) -> int:
        """Wait until latest > sequence (or timeout / close); returns the latest sequence."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._latest > sequence or self._closed:
                return self._latest
            self._waiters.add((loop, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard((loop, future))
        return self._latest

    def wait_beyond_blocking(self, sequence: int, timeout: float | None = None) -> int:
        with self._condition:
            self._condition.wait_for(lambda: self._latest > sequence or self._closed, timeout)
            return self._latest


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
