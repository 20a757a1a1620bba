"""The evaluations store: versioned migrations (databases written before them still open), rows mapped by
column name, change events, outbox and cursors through public methods."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading

from services.curriculum.evaluation import EvalState, Evaluation, EvaluationStore, SkillResult
from services.curriculum.evaluation.store import SCHEMA_VERSION

# The schema of the first release: no scheduling columns, no user_version.
FIRST_RELEASE = """
CREATE TABLE evaluations (
  name TEXT PRIMARY KEY, campaign TEXT NOT NULL, checkpoint TEXT NOT NULL, skills TEXT NOT NULL,
  full INTEGER NOT NULL, state INTEGER NOT NULL, results TEXT NOT NULL, error TEXT NOT NULL,
  attempts INTEGER NOT NULL, problems_done INTEGER NOT NULL, problems_total INTEGER NOT NULL,
  create_time REAL NOT NULL, end_time REAL NOT NULL);
CREATE INDEX evaluations_by_time ON evaluations (create_time, name);
CREATE TABLE ledger_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), sequence INTEGER NOT NULL,
  since_time REAL NOT NULL);
CREATE TABLE campaign_checkpoints (campaign TEXT PRIMARY KEY, seen INTEGER NOT NULL);
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
  key TEXT NOT NULL UNIQUE, payload TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE level_up_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), change_id INTEGER NOT NULL);
"""
RESULT = {"skill": "bin", "level": 1, "accuracy": 0.5, "correct": 25, "total": 50, "regime": "exhaustive",
          "report_asset": "assets/r1", "eval_set_hash": "abc", "mean_partial_score": 0.7}


def _legacy(path, *alters: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(FIRST_RELEASE)
        for alter in alters:
            db.execute(alter)
        db.execute("INSERT INTO evaluations (name, campaign, checkpoint, skills, full, state, results, error, "
                   "attempts, problems_done, problems_total, create_time, end_time) "
                   "VALUES ('evaluations/old', 'c', 'assets/ck1', '[\"bin\"]', 0, 3, ?, '', 1, 50, 50, 10.0, 20.0)",
                   (json.dumps([RESULT]),))
        db.execute("INSERT INTO ledger_cursor VALUES (1, 41, 5.0)")
        db.execute("INSERT INTO level_up_cursor VALUES (1, 7)")
        db.commit()


def test_a_first_release_database_is_migrated_and_keeps_its_rows(tmp_path):
    path = tmp_path / "evaluations.db"
    _legacy(path)
    store = EvaluationStore(path)
    assert store.schema_version == SCHEMA_VERSION
    old = store.get("evaluations/old")
    assert (old.campaign, old.checkpoint, old.state, old.attempts) == ("c", "assets/ck1", EvalState.SUCCEEDED, 1)
    assert old.results == (SkillResult(**RESULT),)
    # Columns added by the migration read back as their defaults.
    assert (old.trigger, old.next_attempt_time, old.superseded_by, old.plan, old.sparring_quest) == \
        ("request", 0.0, "", (), "")
    assert store.ledger_cursor(since_if_new=99.0) == (41, 5.0) and store.level_up_cursor() == 7
    store.close()


def test_a_database_patched_by_the_old_alter_tables_opens_with_rows_mapped_by_name(tmp_path):
    """The pre-versioning code added columns one by one (in any order); mapping is by name, not position."""
    path = tmp_path / "evaluations.db"
    _legacy(path, "ALTER TABLE evaluations ADD COLUMN plan TEXT NOT NULL DEFAULT '[[\"bin\", 1, true]]'",
            "ALTER TABLE evaluations ADD COLUMN trigger TEXT NOT NULL DEFAULT 'checkpoint'",
            "ALTER TABLE evaluations ADD COLUMN start_time REAL NOT NULL DEFAULT 15")
    store = EvaluationStore(path)
    old = store.get("evaluations/old")
    assert (old.plan, old.trigger, old.start_time, old.superseded_by) == ((("bin", 1, True),), "checkpoint", 15.0, "")
    store.close()
    again = EvaluationStore(path)  # a second open runs no migration again
    assert again.schema_version == SCHEMA_VERSION and again.get("evaluations/old") == old
    again.close()


def test_save_get_list_and_change_events(tmp_path):
    store = EvaluationStore(tmp_path / "e.db")
    ev = Evaluation("evaluations/a", "c", "assets/ck1", ("bin",), False, EvalState.PENDING, create_time=1.0)
    changed = threading.Event()

    def watch():
        store.wait_for(lambda: store.version("evaluations/a") >= 2, 10)
        changed.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert store.save(ev) == 1
    assert store.save(Evaluation("evaluations/b", "d", "assets/ck2", ("syllo",), True, EvalState.PENDING,
                                 create_time=2.0)) == 1
    store.set_sparring_quest("evaluations/a", "quests/q1")
    watcher.join(10)
    assert changed.is_set()
    assert store.save(ev) == 3  # a save never resets the sparring quest set by the deliverer
    assert store.get("evaluations/a").sparring_quest == "quests/q1"
    assert [e.name for e in store.list()] == ["evaluations/b", "evaluations/a"]
    assert [e.name for e in store.list("c")] == ["evaluations/a"] and store.get("evaluations/zz") is None
    assert [e.name for e in store.pending()] == ["evaluations/a", "evaluations/b"]
    store.close()


def test_outbox_and_cursors(tmp_path):
    store = EvaluationStore(tmp_path / "e.db")
    woken = []
    store.on_effect_queued(lambda: woken.append(1))
    store.queue_effect("superseded", "superseded/assets/a", {"asset": "assets/a"})
    store.queue_effect("superseded", "superseded/assets/a", {"asset": "assets/a"})  # once per key
    store.queue_effect("sparring", "sparring/x", {"rows": 3})
    assert [(e.kind, e.payload) for e in store.undelivered_effects()] == \
        [("superseded", {"asset": "assets/a"}), ("sparring", {"rows": 3})]
    (sparring,) = store.undelivered_effects("sparring")
    store.effect_attempted(sparring.id)
    store.effect_done(sparring.id, "quests/q1")
    assert [e.kind for e in store.undelivered_effects()] == ["superseded"] and store.effect_count() == 2
    assert len(woken) == 3
    assert store.ledger_cursor(since_if_new=5.0) == (0, 5.0)
    store.advance_ledger_cursor(12)
    assert store.ledger_cursor(since_if_new=99.0) == (12, 5.0)
    assert [store.count_checkpoint("c") for _ in range(3)] == [1, 2, 3]
    store.advance_level_up_cursor(4)
    assert store.level_up_cursor() == 4
    store.close()
