"""The vault's SQLite catalog: one connection, WAL, foreign keys, migrations versioned in code.

Every mutation runs inside `transaction()` (BEGIN IMMEDIATE) while holding `lock`, so the vault has a single
writer and a reader never sees ledger sequence N+1 without N.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from services.kit.sqlite import NestedTransactions

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE assets (
            pk INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            kind INTEGER NOT NULL,
            state INTEGER NOT NULL,
            display_name TEXT NOT NULL DEFAULT '',
            zone TEXT NOT NULL,
            manifest_digest TEXT NOT NULL DEFAULT '',
            size_bytes INTEGER NOT NULL DEFAULT 0,
            labels TEXT NOT NULL DEFAULT '{}',
            hero TEXT NOT NULL DEFAULT '',
            campaign TEXT NOT NULL DEFAULT '',
            global_step INTEGER NOT NULL DEFAULT 0,
            lineage TEXT NOT NULL DEFAULT '{}',
            pinned INTEGER NOT NULL DEFAULT 0,
            pin_note TEXT NOT NULL DEFAULT '',
            in_place INTEGER NOT NULL DEFAULT 0,
            create_time REAL NOT NULL,
            verify_time REAL
        );
        CREATE INDEX assets_by_campaign ON assets(campaign, kind, state, global_step);
        CREATE INDEX assets_by_hero ON assets(hero, kind, state);
        CREATE TABLE asset_files (
            asset_pk INTEGER NOT NULL REFERENCES assets(pk),
            idx INTEGER NOT NULL,
            path TEXT NOT NULL,
            size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
            sha256 TEXT NOT NULL,
            zone TEXT NOT NULL,
            -- where the bytes live, relative to the zone root: blobs/aa/bb/<sha> or an in-place path
            location TEXT NOT NULL,
            PRIMARY KEY (asset_pk, idx),
            UNIQUE (asset_pk, path)
        );
        CREATE INDEX asset_files_by_location ON asset_files(zone, location);
        CREATE TABLE uploads (
            pk INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            asset_pk INTEGER NOT NULL REFERENCES assets(pk),
            request_id TEXT UNIQUE,
            state TEXT NOT NULL CHECK (state IN ('open', 'committed', 'aborted')),
            create_time REAL NOT NULL
        );
        CREATE TABLE upload_files (
            upload_pk INTEGER NOT NULL REFERENCES uploads(pk),
            idx INTEGER NOT NULL,
            received_bytes INTEGER NOT NULL DEFAULT 0,
            already_stored INTEGER NOT NULL DEFAULT 0,
            verified INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (upload_pk, idx)
        );
        CREATE TABLE aliases (
            campaign TEXT NOT NULL,
            alias TEXT NOT NULL,
            asset_pk INTEGER NOT NULL REFERENCES assets(pk),
            system INTEGER NOT NULL DEFAULT 0,
            metric TEXT NOT NULL DEFAULT '',
            metric_value REAL NOT NULL DEFAULT 0,
            direction INTEGER NOT NULL DEFAULT 0,
            update_time REAL NOT NULL,
            PRIMARY KEY (campaign, alias)
        );
        CREATE INDEX aliases_by_asset ON aliases(asset_pk);
        CREATE TABLE evals (
            pk INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            asset_pk INTEGER NOT NULL REFERENCES assets(pk),
            skill TEXT NOT NULL,
            level INTEGER NOT NULL DEFAULT 0,
            accuracy REAL NOT NULL,
            correct INTEGER NOT NULL DEFAULT 0,
            total INTEGER NOT NULL DEFAULT 0,
            report_asset TEXT NOT NULL DEFAULT '',
            regime TEXT NOT NULL DEFAULT '',
            eval_set_hash TEXT NOT NULL DEFAULT '',
            metrics TEXT NOT NULL DEFAULT '{}',
            create_time REAL NOT NULL
        );
        CREATE INDEX evals_by_asset ON evals(asset_pk, skill, accuracy);
        CREATE TABLE ledger (
            sequence INTEGER PRIMARY KEY AUTOINCREMENT,
            kind INTEGER NOT NULL,
            time REAL NOT NULL,
            asset TEXT NOT NULL DEFAULT '',
            campaign TEXT NOT NULL DEFAULT '',
            hero TEXT NOT NULL DEFAULT '',
            asset_kind INTEGER NOT NULL DEFAULT 0,
            alias TEXT NOT NULL DEFAULT '',
            message TEXT NOT NULL DEFAULT '',
            attributes TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TRIGGER ledger_append_only_update BEFORE UPDATE ON ledger
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
        CREATE TRIGGER ledger_append_only_delete BEFORE DELETE ON ledger
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
        CREATE TABLE retention_policies (
            campaign TEXT PRIMARY KEY,
            policy TEXT NOT NULL
        );
        """,
    ),
    (
        2,
        """
        -- AppendLedgerEvent with an idempotency key appends once; a repeat returns the first event.
        CREATE TABLE ledger_keys (
            key TEXT PRIMARY KEY,
            sequence INTEGER NOT NULL REFERENCES ledger(sequence)
        );
        """,
    ),
)


def placeholders(values: Sequence[Any]) -> str:
    """`?,?,?` for an `IN (...)` clause over `values`."""
    return ",".join("?" * len(values))


class Catalog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._transactions = NestedTransactions(self._db, self.lock)
        self.migrate()

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        with self.lock:
            for version, script in MIGRATIONS:
                if version <= self.schema_version:
                    continue
                # executescript commits implicitly, so the version bump rides inside the script's transaction.
                self._db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={version};\nCOMMIT;")

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return self._transactions()

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            yield self._db

    def close(self) -> None:
        with self.lock:
            self._db.close()
