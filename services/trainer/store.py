"""The trainer's own SQLite database (WAL): campaigns, quests, events, the checkpoint outbox, run control.

One connection guarded by a lock: every statement is short, and the controller, the servicer and the
outbox drainer share it from the event loop or worker threads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    hero TEXT NOT NULL,
    state TEXT NOT NULL,
    starting_checkpoint TEXT NOT NULL DEFAULT '',
    overrides_json TEXT NOT NULL DEFAULT '{}',
    skills_json TEXT NOT NULL DEFAULT '[]',
    milestones_json TEXT NOT NULL DEFAULT '[]',
    peak_metrics_json TEXT NOT NULL DEFAULT '{}',
    global_step INTEGER NOT NULL DEFAULT 0,
    trained_tokens INTEGER NOT NULL DEFAULT 0,
    -- Newest local checkpoint directory of the campaign: the next quest starts from it.
    latest_checkpoint_dir TEXT NOT NULL DEFAULT '',
    -- Newest checkpoint confirmed by the vault (its asset name).
    latest_checkpoint_asset TEXT NOT NULL DEFAULT '',
    create_time REAL NOT NULL,
    update_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS quests (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    campaign TEXT NOT NULL,
    priority TEXT NOT NULL,
    priority_rank INTEGER NOT NULL,
    state TEXT NOT NULL,
    position INTEGER NOT NULL,
    dataset_asset TEXT NOT NULL DEFAULT '',
    schema_id TEXT NOT NULL DEFAULT '',
    sidecar_json TEXT NOT NULL DEFAULT '',
    rows INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT NOT NULL DEFAULT '',
    validation_json TEXT NOT NULL DEFAULT '',
    state_reason TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    labels_json TEXT NOT NULL DEFAULT '{}',
    steps_done INTEGER NOT NULL DEFAULT 0,
    steps_total INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker_restarts INTEGER NOT NULL DEFAULT 0,
    worker_pid INTEGER NOT NULL DEFAULT 0,
    file_path TEXT NOT NULL DEFAULT '',
    run_dir TEXT NOT NULL DEFAULT '',
    global_step_offset INTEGER NOT NULL DEFAULT 0,
    trained_tokens_offset INTEGER NOT NULL DEFAULT 0,
    create_time REAL NOT NULL,
    start_time REAL NOT NULL DEFAULT 0,
    end_time REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS quests_queue ON quests (campaign, state, priority_rank, position);
CREATE TABLE IF NOT EXISTS events (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    time REAL NOT NULL,
    campaign TEXT NOT NULL DEFAULT '',
    quest TEXT NOT NULL DEFAULT '',
    payload_json TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    checkpoint_dir TEXT NOT NULL UNIQUE,
    campaign TEXT NOT NULL,
    quest TEXT NOT NULL,
    global_step INTEGER NOT NULL,
    lineage_json TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    asset TEXT NOT NULL DEFAULT '',
    create_time REAL NOT NULL,
    confirm_time REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS settings_kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class TrainerStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE .. COMMIT under the lock; nested use joins the outer transaction."""
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def get_value(self, key: str, default: str = "") -> str:
        row = self.query_one("SELECT value FROM settings_kv WHERE key = ?", (key,))
        return row["value"] if row else default

    def set_value(self, key: str, value: str) -> None:
        self.execute(
            "INSERT INTO settings_kv (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def raise_value(self, key: str, value: int) -> None:
        """Store an integer that only moves forward: an older value never replaces a newer one."""
        self.execute(
            "INSERT INTO settings_kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
            "CAST(MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)",
            (key, str(value)),
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
