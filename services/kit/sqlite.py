"""SQLite helpers shared by the services' stores."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator


class NestedTransactions:
    """`BEGIN IMMEDIATE … COMMIT` on one connection, under the store's lock; a nested call joins the outer
    transaction, and an exception anywhere rolls the whole unit back."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db, self._lock, self._depth = db, lock, 0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._db
            except BaseException:
                self._depth = 0
                self._db.execute("ROLLBACK")
                raise
            self._depth = 0
            self._db.execute("COMMIT")
