"""Transfer-baseline measurements (SQLite WAL): one row per (campaign, checkpoint, skill, level, eval set hash),
plus each campaign's base model. Written by the idle-task handler, read by the passives report."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS passive_results (
    campaign TEXT NOT NULL,
    checkpoint TEXT NOT NULL,
    base INTEGER NOT NULL,
    skill TEXT NOT NULL,
    level INTEGER NOT NULL,
    eval_set_hash TEXT NOT NULL,
    correct INTEGER NOT NULL,
    total INTEGER NOT NULL,
    global_step INTEGER NOT NULL DEFAULT 0,
    measure_time REAL NOT NULL,
    PRIMARY KEY (campaign, checkpoint, skill, level, eval_set_hash)
);
CREATE TABLE IF NOT EXISTS passive_bases (
    campaign TEXT PRIMARY KEY,
    checkpoint TEXT NOT NULL,
    set_time REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Measurement:
    campaign: str
    checkpoint: str
    base: bool
    skill: str
    level: int
    eval_set_hash: str
    correct: int
    total: int
    global_step: int = 0
    measure_time: float = 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


class PassivesStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def set_base(self, campaign: str, checkpoint: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO passive_bases (campaign, checkpoint, set_time) VALUES (?, ?, ?) "
                             "ON CONFLICT(campaign) DO UPDATE SET checkpoint = excluded.checkpoint, "
                             "set_time = excluded.set_time", (campaign, checkpoint, time.time()))

    def base(self, campaign: str) -> str:
        with self._lock:
            row = self._db.execute("SELECT checkpoint FROM passive_bases WHERE campaign = ?", (campaign,)).fetchone()
        return row[0] if row else ""

    def record(self, m: Measurement) -> None:
        """Idempotent per (campaign, checkpoint, set): a re-run (e.g. after a lost lease) replaces the row."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO passive_results (campaign, checkpoint, base, skill, level, eval_set_hash, "
                "correct, total, global_step, measure_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (m.campaign, m.checkpoint, int(m.base), m.skill, m.level, m.eval_set_hash, m.correct, m.total,
                 m.global_step, m.measure_time or time.time()))

    def measured(self, campaign: str, checkpoint: str) -> set[tuple[str, int, str]]:
        with self._lock:
            rows = self._db.execute("SELECT skill, level, eval_set_hash FROM passive_results "
                                    "WHERE campaign = ? AND checkpoint = ?", (campaign, checkpoint)).fetchall()
        return {(r[0], r[1], r[2]) for r in rows}

    def results(self, campaign: str) -> list[Measurement]:
        with self._lock:
            rows = self._db.execute(
                "SELECT campaign, checkpoint, base, skill, level, eval_set_hash, correct, total, global_step, "
                "measure_time FROM passive_results WHERE campaign = ? "
                "ORDER BY base DESC, measure_time, checkpoint, skill, level", (campaign,)).fetchall()
        return [Measurement(r[0], r[1], bool(r[2]), *r[3:]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
