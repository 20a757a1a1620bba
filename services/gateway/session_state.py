"""What browser sessions need to outlive a gateway restart: the cookie-signing key and the list of signed-out
sessions.

The key lives in `<data_dir>/secrets/gateway-session.key` (0600, written to a temp file, fsynced, then linked into
place so two gateways starting together agree on one key). Sign-outs are kept in a small SQLite table (WAL) in
`<data_dir>/gateway/sessions.sqlite3` until the cookie they revoke would have expired anyway; they are loaded
into memory at start, so checking a cookie never touches the disk.

Without a data dir (a gateway built for a test without settings) both stay in memory: sessions then end with the
process, as before.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path

KEY_BYTES = 32
KEY_FILE = Path("secrets") / "gateway-session.key"
REVOCATIONS_FILE = Path("gateway") / "sessions.sqlite3"


def load_or_create_key(path: Path) -> bytes:
    """The signing key at `path`, minted on first use. A key file of the wrong size is an error, not replaced:
    replacing it would sign everyone out silently."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another gateway won the race: use its key
            os.link(temp, path)
        _fsync_dir(path.parent)
    finally:
        temp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise ValueError(f"{path}: not a session key ({KEY_BYTES * 2} hex digits expected); remove it to mint a "
                         "new one (that signs every browser out)")
    return key


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Revocations:
    """Session ids signed out before their expiry. `is_revoked` reads memory only; `revoke` also writes through
    to SQLite (call it off the event loop)."""

    def __init__(self, path: Path | None, clock=time.time) -> None:
        self.path = path
        self.clock = clock
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS revoked_sessions (session_id TEXT PRIMARY KEY, "
                     "expires_at REAL NOT NULL)")
        conn.execute("DELETE FROM revoked_sessions WHERE expires_at < ?", (self.clock(),))
        rows = conn.execute("SELECT session_id, expires_at FROM revoked_sessions").fetchall()
        with self._lock:
            self._conn = conn
            self._revoked.update(rows)

    def is_revoked(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._revoked

    def revoke(self, session_id: str, expires_at: float) -> None:
        now = self.clock()
        with self._lock:
            self._revoked[session_id] = expires_at
            for old in [k for k, until in self._revoked.items() if until < now]:
                del self._revoked[old]  # its cookie has expired: no need to remember it
            if self._conn is not None:
                self._conn.execute("INSERT OR REPLACE INTO revoked_sessions (session_id, expires_at) VALUES (?, ?)",
                                   (session_id, expires_at))
                self._conn.execute("DELETE FROM revoked_sessions WHERE expires_at < ?", (now,))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
