"""The evaluations database: trials, the ledger cursor, per-campaign checkpoint counts, the outbox of effects on
peers and the level-up announcement cursor. The only module that opens it or writes SQL for it.

One connection (WAL), one re-entrant lock; writes run inside `transaction()` (BEGIN IMMEDIATE), which callers
may also hold around several calls to make a read-then-write atomic. The schema is migrated by version
(`PRAGMA user_version`); a database from before versioned migrations (user_version 0, columns added by ad-hoc
ALTER TABLEs or not) is brought to the current schema by the same steps, which tolerate what already exists.

Every change to an evaluation bumps its in-memory version and wakes `wait_for` callers, so watchers and the
trial worker wait on an event instead of polling.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from services.curriculum.evaluation.model import (
    TRIGGER_CHECKPOINT,
    Effect,
    EvalState,
    Evaluation,
    SkillResult,
)
from services.kit.sqlite import NestedTransactions

_FIRST_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS evaluations (
      name TEXT PRIMARY KEY, campaign TEXT NOT NULL, checkpoint TEXT NOT NULL, skills TEXT NOT NULL,
      full INTEGER NOT NULL, state INTEGER NOT NULL, results TEXT NOT NULL, error TEXT NOT NULL,
      attempts INTEGER NOT NULL, problems_done INTEGER NOT NULL, problems_total INTEGER NOT NULL,
      create_time REAL NOT NULL, end_time REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS evaluations_by_time ON evaluations (create_time, name)",
    """CREATE TABLE IF NOT EXISTS ledger_cursor (id INTEGER PRIMARY KEY CHECK (id = 1),
      sequence INTEGER NOT NULL, since_time REAL NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS campaign_checkpoints (campaign TEXT PRIMARY KEY, seen INTEGER NOT NULL)",
    # Effects on peers, delivered (with retries) by services.curriculum.deliveries.
    """CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
      key TEXT NOT NULL UNIQUE, payload TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0,
      result TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS level_up_cursor (id INTEGER PRIMARY KEY CHECK (id = 1),
      change_id INTEGER NOT NULL)""",
)
# Trial scheduling (retries, coalescing, cooldown, sparring, frozen plans) came after the first release.
_SCHEDULING_COLUMNS = (("trigger", "TEXT NOT NULL DEFAULT 'request'"),
                       ("next_attempt_time", "REAL NOT NULL DEFAULT 0"),
                       ("superseded_by", "TEXT NOT NULL DEFAULT ''"), ("start_time", "REAL NOT NULL DEFAULT 0"),
                       ("sparring_quest", "TEXT NOT NULL DEFAULT ''"), ("plan", "TEXT NOT NULL DEFAULT '[]'"))


def _create_first_schema(db: sqlite3.Connection) -> None:
    for statement in _FIRST_SCHEMA:
        db.execute(statement)


def _add_scheduling_columns(db: sqlite3.Connection) -> None:
    present = {row["name"] for row in db.execute("PRAGMA table_info(evaluations)")}
    for column, spec in _SCHEDULING_COLUMNS:
        if column not in present:  # a pre-versioning database may have some of them already
            db.execute(f"ALTER TABLE evaluations ADD COLUMN {column} {spec}")


MIGRATIONS: tuple[tuple[int, Callable[[sqlite3.Connection], None]], ...] = (
    (1, _create_first_schema),
    (2, _add_scheduling_columns),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

_COLUMNS = ("name", "campaign", "checkpoint", "skills", "full", "state", "results", "error", "attempts",
            "problems_done", "problems_total", "create_time", "end_time", "trigger", "next_attempt_time",
            "superseded_by", "start_time", "sparring_quest", "plan")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM evaluations"
# sparring_quest belongs to set_sparring_quest (the deliveries thread): saving an evaluation never resets it.
_UPSERT = (f"INSERT INTO evaluations ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
           "ON CONFLICT(name) DO UPDATE SET "
           + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in ("name", "sparring_quest")))


def _row_values(ev: Evaluation) -> tuple[Any, ...]:
    values = {"name": ev.name, "campaign": ev.campaign, "checkpoint": ev.checkpoint,
              "skills": json.dumps(list(ev.skills)), "full": int(ev.full), "state": int(ev.state),
              "results": json.dumps([asdict(r) for r in ev.results]), "error": ev.error, "attempts": ev.attempts,
              "problems_done": ev.problems_done, "problems_total": ev.problems_total,
              "create_time": ev.create_time, "end_time": ev.end_time, "trigger": ev.trigger,
              "next_attempt_time": ev.next_attempt_time, "superseded_by": ev.superseded_by,
              "start_time": ev.start_time, "sparring_quest": ev.sparring_quest,
              "plan": json.dumps([list(p) for p in ev.plan])}
    return tuple(values[c] for c in _COLUMNS)


class EvaluationStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._transactions = NestedTransactions(self._db, self._lock)
        self._versions: dict[str, int] = {}
        self._generation = 0  # bumped by every change the trial worker may care about
        self._effect_listeners: list[Callable[[], None]] = []
        self._migrate()

    # ------------------------------------------------------------------ plumbing
    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        with self._lock:
            for version, step in MIGRATIONS:
                if version <= self.schema_version:
                    continue
                with self.transaction() as db:
                    step(db)
                    db.execute(f"PRAGMA user_version = {int(version)}")

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One atomic unit (nested calls join the outer one)."""
        return self._transactions()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def backup(self, target: sqlite3.Connection | Path) -> None:
        """A consistent copy of the database (SQLite online backup) into a connection or a file."""
        with self._lock:
            if isinstance(target, sqlite3.Connection):
                self._db.backup(target)
                return
            copy = sqlite3.connect(target)
            try:
                self._db.backup(copy)
            finally:
                copy.close()

    # ------------------------------------------------------------------ change events
    def _bump(self, name: str | None = None) -> int:
        with self._changed:
            if name is not None:
                self._versions[name] = self._versions.get(name, 0) + 1
            self._generation += 1
            self._changed.notify_all()
            return self._versions.get(name, 0) if name is not None else 0

    def notify(self) -> None:
        """Wake every `wait_for` caller (e.g. a shutdown they should notice)."""
        self._bump()

    def version(self, name: str) -> int:
        """How often the evaluation changed since this process opened the store."""
        return self._versions.get(name, 0)

    @property
    def generation(self) -> int:
        return self._generation

    def wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """Block until `predicate()` holds, re-checked after every change (or timeout); return its value."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def on_effect_queued(self, listener: Callable[[], None]) -> None:
        self._effect_listeners.append(listener)

    # ------------------------------------------------------------------ evaluations
    def _evaluation(self, row: sqlite3.Row) -> Evaluation:
        return Evaluation(
            name=row["name"], campaign=row["campaign"], checkpoint=row["checkpoint"],
            skills=tuple(json.loads(row["skills"])), full=bool(row["full"]), state=EvalState(row["state"]),
            results=tuple(SkillResult(**r) for r in json.loads(row["results"])), error=row["error"],
            attempts=row["attempts"], problems_done=row["problems_done"], problems_total=row["problems_total"],
            create_time=row["create_time"], end_time=row["end_time"], trigger=row["trigger"],
            next_attempt_time=row["next_attempt_time"], superseded_by=row["superseded_by"],
            start_time=row["start_time"], sparring_quest=row["sparring_quest"],
            plan=tuple((str(p[0]), int(p[1]), bool(p[2])) for p in json.loads(row["plan"])),
            version=self.version(row["name"]))

    def _select(self, where: str = "", params: tuple[Any, ...] = (), order: str = "") -> list[Evaluation]:
        with self._lock:
            rows = self._db.execute(f"{_SELECT} {where} {order}", params).fetchall()
        return [self._evaluation(r) for r in rows]

    def save(self, ev: Evaluation) -> int:
        """Insert or update the evaluation (all but its sparring quest); return its new version."""
        with self.transaction() as db:
            db.execute(_UPSERT, _row_values(ev))
            return self._bump(ev.name)

    def get(self, name: str) -> Evaluation | None:
        found = self._select("WHERE name = ?", (name,))
        return found[0] if found else None

    def list(self, campaign: str = "") -> list[Evaluation]:
        """Newest first."""
        if campaign:
            return self._select("WHERE campaign = ?", (campaign,), "ORDER BY create_time DESC, name")
        return self._select(order="ORDER BY create_time DESC, name")

    def pending(self) -> list[Evaluation]:
        """PENDING evaluations, oldest first."""
        return self._select("WHERE state = ?", (int(EvalState.PENDING),), "ORDER BY create_time, name")

    def follower_trial(self, campaign: str, checkpoint: str) -> Evaluation | None:
        found = self._select("WHERE trigger = ? AND checkpoint = ? AND campaign = ?",
                             (TRIGGER_CHECKPOINT, checkpoint, campaign))
        return found[0] if found else None

    def pending_follower_trials(self, campaign: str) -> list[Evaluation]:
        return self._select("WHERE campaign = ? AND trigger = ? AND state = ?",
                            (campaign, TRIGGER_CHECKPOINT, int(EvalState.PENDING)))

    def last_follower_starts(self) -> dict[str, float]:
        """campaign -> start time of its latest follower trial (for the cooldown)."""
        with self._lock:
            rows = self._db.execute("SELECT campaign, MAX(start_time) AS started FROM evaluations WHERE trigger = ? "
                                    "AND start_time > 0 GROUP BY campaign", (TRIGGER_CHECKPOINT,)).fetchall()
        return {r["campaign"]: r["started"] for r in rows}

    def requeue_interrupted(self, reason: str) -> None:
        """RUNNING trials (a restart interrupted them) go back to PENDING, due at once."""
        with self.transaction() as db:
            db.execute("UPDATE evaluations SET state = ?, error = ?, next_attempt_time = 0 WHERE state = ?",
                       (int(EvalState.PENDING), reason, int(EvalState.RUNNING)))
        self._bump()

    def set_sparring_quest(self, name: str, quest: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE evaluations SET sparring_quest = ? WHERE name = ?", (quest, name))
            self._bump(name)

    def count_checkpoint(self, campaign: str) -> int:
        """Count one more checkpoint seen for the campaign; return the new count."""
        with self.transaction() as db:
            row = db.execute("SELECT seen FROM campaign_checkpoints WHERE campaign = ?", (campaign,)).fetchone()
            count = (row["seen"] if row else 0) + 1
            db.execute("INSERT OR REPLACE INTO campaign_checkpoints (campaign, seen) VALUES (?, ?)",
                       (campaign, count))
        return count

    # ------------------------------------------------------------------ ledger cursor (the follower's place)
    def ledger_cursor(self, since_if_new: float) -> tuple[int, float]:
        """(last handled ledger sequence, time from which checkpoints are followed); created on first use."""
        with self.transaction() as db:
            row = db.execute("SELECT sequence, since_time FROM ledger_cursor WHERE id = 1").fetchone()
            if row is None:
                db.execute("INSERT INTO ledger_cursor (id, sequence, since_time) VALUES (1, 0, ?)", (since_if_new,))
                return 0, since_if_new
        return int(row["sequence"]), float(row["since_time"])

    def advance_ledger_cursor(self, sequence: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE ledger_cursor SET sequence = ? WHERE id = 1", (sequence,))

    # ------------------------------------------------------------------ outbox
    def queue_effect(self, kind: str, key: str, payload: Mapping[str, Any]) -> None:
        """Queue an effect once per key; listeners (the deliverer) are woken."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO outbox (kind, key, payload) VALUES (?, ?, ?)",
                       (kind, key, json.dumps(payload, ensure_ascii=False)))
        for listener in self._effect_listeners:
            listener()

    def undelivered_effects(self, kind: str | None = None) -> list[Effect]:
        with self._lock:
            rows = self._db.execute("SELECT id, kind, payload, attempts FROM outbox WHERE done = 0 "
                                    + ("AND kind = ? " if kind else "") + "ORDER BY id",
                                    (kind,) if kind else ()).fetchall()
        return [Effect(r["id"], r["kind"], json.loads(r["payload"]), r["attempts"]) for r in rows]

    def effect_attempted(self, effect_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (effect_id,))

    def effect_done(self, effect_id: int, result: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE outbox SET done = 1, result = ?, attempts = attempts + 1 WHERE id = ?",
                       (result, effect_id))

    def effect_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    # ------------------------------------------------------------------ level-up announcements
    def level_up_cursor(self) -> int:
        """Id of the last progression level change announced to the vault (0: none yet)."""
        with self._lock:
            row = self._db.execute("SELECT change_id FROM level_up_cursor WHERE id = 1").fetchone()
        return int(row["change_id"]) if row else 0

    def advance_level_up_cursor(self, change_id: int) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO level_up_cursor (id, change_id) VALUES (1, ?)", (change_id,))
