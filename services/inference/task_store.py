"""The background-task registry's SQLite database (WAL): one row per task, surviving restarts.

A RUNNING task's lease is a wall-clock time, so after a restart (or a worker that died) the board puts it back
in QUEUED once the lease has passed; nothing needs to be repaired at start-up.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"
TERMINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELLED})

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    priority INTEGER NOT NULL,
    state TEXT NOT NULL,
    parameters_json TEXT NOT NULL DEFAULT '{}',
    display_name TEXT NOT NULL DEFAULT '',
    worker TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    result_json TEXT NOT NULL DEFAULT '{}',
    error TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_seconds REAL NOT NULL DEFAULT 0,
    lease_expire_time REAL NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    create_time REAL NOT NULL,
    start_time REAL NOT NULL DEFAULT 0,
    end_time REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tasks_queue ON tasks (state, priority DESC, create_time);
"""


@dataclass(frozen=True)
class Task:
    task_id: str
    kind: str
    priority: int
    state: str
    parameters: dict[str, str] = field(default_factory=dict)
    display_name: str = ""
    worker: str = ""
    progress: float = 0.0
    message: str = ""
    result: dict[str, str] = field(default_factory=dict)
    error: str = ""
    attempts: int = 0
    lease_seconds: float = 0.0
    lease_expire_time: float = 0.0
    cancel_requested: bool = False
    create_time: float = 0.0
    start_time: float = 0.0
    end_time: float = 0.0

    @property
    def name(self) -> str:
        return f"tasks/{self.task_id}"


def _task(row: sqlite3.Row) -> Task:
    return Task(
        task_id=row["id"], kind=row["kind"], priority=row["priority"], state=row["state"],
        parameters=json.loads(row["parameters_json"]), display_name=row["display_name"], worker=row["worker"],
        progress=row["progress"], message=row["message"], result=json.loads(row["result_json"]),
        error=row["error"], attempts=row["attempts"], lease_seconds=row["lease_seconds"],
        lease_expire_time=row["lease_expire_time"], cancel_requested=bool(row["cancel_requested"]),
        create_time=row["create_time"], start_time=row["start_time"], end_time=row["end_time"],
    )


class TaskStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def insert(self, task: Task) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO tasks (id, kind, priority, state, parameters_json, display_name, create_time) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (task.task_id, task.kind, task.priority, task.state, json.dumps(task.parameters, sort_keys=True),
                 task.display_name, task.create_time))

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return _task(row) if row else None

    def list(self, *, state: str = "", kind: str = "", offset: int = 0, limit: int = 100) -> list[Task]:
        clauses, params = [], []
        if state:
            clauses.append("state = ?")
            params.append(state)
        if kind:
            clauses.append("kind = ?")
            params.append(kind)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._conn.execute(f"SELECT * FROM tasks {where} ORDER BY create_time DESC, id DESC "
                                      "LIMIT ? OFFSET ?", (*params, limit, offset)).fetchall()
        return [_task(r) for r in rows]

    def next_queued(self, kinds: list[str]) -> Task | None:
        marks = ",".join("?" * len(kinds))
        with self._lock:
            row = self._conn.execute(f"SELECT * FROM tasks WHERE state = ? AND kind IN ({marks}) "
                                     "ORDER BY priority DESC, create_time, id LIMIT 1", (QUEUED, *kinds)).fetchone()
        return _task(row) if row else None

    def expired(self, now: float) -> list[Task]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM tasks WHERE state = ? AND lease_expire_time < ?",
                                      (RUNNING, now)).fetchall()
        return [_task(r) for r in rows]

    def update(self, task_id: str, **changes: Any) -> None:
        columns = {"parameters": "parameters_json", "result": "result_json"}
        values = {columns.get(k, k): (json.dumps(v, sort_keys=True) if k in columns else
                                      int(v) if isinstance(v, bool) else v) for k, v in changes.items()}
        sets = ", ".join(f"{column} = ?" for column in values)
        with self._lock:
            self._conn.execute(f"UPDATE tasks SET {sets} WHERE id = ?", (*values.values(), task_id))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
