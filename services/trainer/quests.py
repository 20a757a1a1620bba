"""The quest queue: ordered by priority (high, normal, low), then by position within the priority."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.kit.paging import decode_offset, encode_token
from services.kit.paging import page_size as page_size_of
from services.trainer.models import WAITING_QUEST_STATES, Priority, Quest, QuestState, resource_id
from services.trainer.store import TrainerStore

MUTABLE_QUEST_FIELDS = frozenset({"priority", "display_name", "labels"})
RETRYABLE_STATES = frozenset({QuestState.FAILED, QuestState.SKIPPED, QuestState.REJECTED})


def quest_from_row(row: sqlite3.Row) -> Quest:
    return Quest(
        quest_id=row["id"],
        display_name=row["display_name"],
        campaign=row["campaign"],
        priority=Priority(row["priority"]),
        state=QuestState(row["state"]),
        position=row["position"],
        dataset_asset=row["dataset_asset"],
        schema_id=row["schema_id"],
        sidecar_json=row["sidecar_json"],
        rows=row["rows"],
        bytes=row["bytes"],
        sha256=row["sha256"],
        validation=json.loads(row["validation_json"]) if row["validation_json"] else {},
        state_reason=row["state_reason"],
        source=row["source"],
        labels=json.loads(row["labels_json"]),
        steps_done=row["steps_done"],
        steps_total=row["steps_total"],
        attempts=row["attempts"],
        worker_restarts=row["worker_restarts"],
        worker_pid=row["worker_pid"],
        file_path=row["file_path"],
        run_dir=row["run_dir"],
        global_step_offset=row["global_step_offset"],
        trained_tokens_offset=row["trained_tokens_offset"],
        create_time=row["create_time"],
        start_time=row["start_time"],
        end_time=row["end_time"],
    )


class QuestQueue:
    def __init__(self, store: TrainerStore) -> None:
        self.store = store

    # ---- reads -------------------------------------------------------------------------------------------
    def get(self, name: str) -> Quest:
        quest_id = resource_id(name, "quests")
        row = self.store.query_one("SELECT * FROM quests WHERE id = ?", (quest_id,))
        if row is None:
            raise NotFound(f"no quest {quest_id}", field="name")
        return quest_from_row(row)

    def list(
        self,
        *,
        campaign: str = "",
        states: list[QuestState] | tuple[QuestState, ...] = (),
        page_size: int = 0,
        page_token: str = "",
    ) -> tuple[list[Quest], str]:
        """Queue order first (priority, position), then history, newest last."""
        limit = page_size_of(page_size)
        # A token only continues the listing it came from (same filters).
        filters = {"campaign": campaign, "states": sorted(s.value for s in states)}
        offset = decode_offset(page_token, filters)
        clauses: list[str] = []
        params: list[Any] = []
        if campaign:
            clauses.append("campaign = ?")
            params.append(f"campaigns/{resource_id(campaign, 'campaigns', field_name='campaign')}")
        if states:
            clauses.append(f"state IN ({','.join('?' * len(states))})")
            params.extend(s.value for s in states)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.store.query(
            f"SELECT * FROM quests {where} ORDER BY "
            "CASE state WHEN 'RUNNING' THEN 0 WHEN 'PAUSED' THEN 1 WHEN 'QUEUED' THEN 2 "
            "WHEN 'VALIDATING' THEN 3 ELSE 4 END, "
            "CASE WHEN state IN ('QUEUED', 'VALIDATING') THEN priority_rank ELSE 0 END, "
            "CASE WHEN state IN ('QUEUED', 'VALIDATING') THEN position ELSE 0 END, create_time, id "
            "LIMIT ? OFFSET ?",
            (*params, limit + 1, offset),
        )
        quests = [quest_from_row(r) for r in rows[:limit]]
        return quests, (encode_token(offset + limit, filters) if len(rows) > limit else "")

    def count(self, *, campaign: str, states: frozenset[QuestState] | set[QuestState]) -> int:
        row = self.store.query_one(
            f"SELECT COUNT(*) AS n FROM quests WHERE campaign = ? AND state IN ({','.join('?' * len(states))})",
            (campaign, *(s.value for s in states)),
        )
        return int(row["n"]) if row else 0

    def count_in_state(self, state: QuestState) -> int:
        """Quests in this state across every campaign."""
        row = self.store.query_one("SELECT COUNT(*) AS n FROM quests WHERE state = ?", (state.value,))
        return int(row["n"]) if row else 0

    def next_to_run(self, campaign: str) -> Quest | None:
        """A PAUSED quest of the campaign continues first; otherwise the head of the queue."""
        row = self.store.query_one(
            "SELECT * FROM quests WHERE campaign = ? AND state = 'PAUSED' ORDER BY start_time LIMIT 1", (campaign,)
        )
        if row is None:
            row = self.store.query_one(
                "SELECT * FROM quests WHERE campaign = ? AND state = 'QUEUED' "
                "ORDER BY priority_rank, position LIMIT 1",
                (campaign,),
            )
        return quest_from_row(row) if row else None

    def in_state(self, state: QuestState) -> list[Quest]:
        return [quest_from_row(r) for r in self.store.query("SELECT * FROM quests WHERE state = ?", (state.value,))]

    # ---- writes ------------------------------------------------------------------------------------------
    def skip_waiting(self, campaign: str, *, source: str, select: Callable[[Quest], bool], reason: str) -> list[str]:
        """SKIP the campaign's waiting quests from `source` that `select` picks; returns their names. Conditional
        on the state, in one transaction: a quest the controller has just started is left alone."""
        waiting = tuple(s.value for s in WAITING_QUEST_STATES)
        marks = ",".join("?" * len(waiting))
        skipped: list[str] = []
        now = time.time()
        with self.store.transaction() as conn:
            rows = conn.execute(
                f"SELECT * FROM quests WHERE campaign = ? AND source = ? AND state IN ({marks})",
                (campaign, source, *waiting),
            ).fetchall()
            for quest in map(quest_from_row, rows):
                if not select(quest):
                    continue
                changed = conn.execute(
                    f"UPDATE quests SET state = ?, state_reason = ?, end_time = ?, worker_pid = 0 "
                    f"WHERE id = ? AND state IN ({marks})",
                    (QuestState.SKIPPED.value, reason, now, quest.quest_id, *waiting),
                ).rowcount
                if changed:
                    skipped.append(quest.name)
        return skipped

    def _tail_position(self, conn: sqlite3.Connection, campaign: str, priority: Priority) -> int:
        row = conn.execute(
            "SELECT COALESCE(MAX(position), -1) AS p FROM quests WHERE campaign = ? AND priority_rank = ?",
            (campaign, priority.rank),
        ).fetchone()
        return int(row["p"]) + 1

    def add(
        self,
        *,
        quest_id: str,
        campaign: str,
        display_name: str,
        priority: Priority,
        source: str,
        labels: dict[str, str],
        schema_id: str,
        sidecar_json: str,
        file_path: str,
        rows: int,
        size_bytes: int,
        sha256: str,
        dataset_asset: str = "",
    ) -> Quest:
        now = time.time()
        with self.store.transaction() as conn:
            position = self._tail_position(conn, campaign, priority)
            conn.execute(
                "INSERT INTO quests (id, display_name, campaign, priority, priority_rank, state, position, "
                "dataset_asset, schema_id, sidecar_json, rows, bytes, sha256, source, labels_json, file_path, "
                "create_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    quest_id, display_name or quest_id, campaign, priority.value, priority.rank,
                    QuestState.VALIDATING.value, position, dataset_asset, schema_id, sidecar_json, rows,
                    size_bytes, sha256, source, json.dumps(labels), file_path, now,
                ),
            )
        return self.get(quest_id)

    def set_validation(self, name: str, report: dict[str, Any], *, accepted: bool, reason: str = "") -> Quest:
        quest = self.get(name)
        state = QuestState.QUEUED if accepted else QuestState.REJECTED
        self.store.execute(
            "UPDATE quests SET validation_json = ?, state = ?, state_reason = ?, rows = MAX(rows, ?), "
            "schema_id = CASE WHEN schema_id = '' THEN ? ELSE schema_id END, end_time = ? "
            # Only from VALIDATING: a quest pruned (SKIPPED) by a level-up meanwhile stays SKIPPED.
            "WHERE id = ? AND state = 'VALIDATING'",
            (
                json.dumps(report), state.value, reason, int(report.get("rows", 0) or 0),
                str(report.get("schema_id", "") or ""), 0.0 if accepted else time.time(), quest.quest_id,
            ),
        )
        return self.get(quest.quest_id)

    def update(self, name: str, changes: dict[str, Any]) -> Quest:
        quest = self.get(name)
        bad = sorted(set(changes) - MUTABLE_QUEST_FIELDS)
        if bad:
            raise InvalidArgument(f"not mutable: {bad}; mutable: {sorted(MUTABLE_QUEST_FIELDS)}", field="update_mask")
        with self.store.transaction() as conn:
            if "display_name" in changes:
                conn.execute(
                    "UPDATE quests SET display_name = ? WHERE id = ?", (str(changes["display_name"]), quest.quest_id)
                )
            if "labels" in changes:
                labels = {str(k): str(v) for k, v in dict(changes["labels"]).items()}
                conn.execute("UPDATE quests SET labels_json = ? WHERE id = ?", (json.dumps(labels), quest.quest_id))
            if "priority" in changes:
                priority = changes["priority"]
                if not isinstance(priority, Priority):
                    priority = Priority.parse(str(priority))
                if priority is not quest.priority:
                    position = self._tail_position(conn, quest.campaign, priority)
                    conn.execute(
                        "UPDATE quests SET priority = ?, priority_rank = ?, position = ? WHERE id = ?",
                        (priority.value, priority.rank, position, quest.quest_id),
                    )
        return self.get(quest.quest_id)

    def move(self, name: str, *, before: str = "", after: str = "") -> Quest:
        """Move a waiting quest just before or after another waiting quest of the same campaign and priority."""
        if bool(before) == bool(after):
            raise InvalidArgument("give exactly one of before_quest / after_quest", field="target")
        quest = self.get(name)
        anchor = self.get(before or after)
        anchor_field = "before_quest" if before else "after_quest"
        waiting = (QuestState.QUEUED, QuestState.VALIDATING)
        if quest.state not in waiting:
            raise FailedPrecondition(f"quest {quest.quest_id} is {quest.state.value}, not waiting", field="name")
        if anchor.quest_id == quest.quest_id:
            raise InvalidArgument("cannot move a quest relative to itself", field=anchor_field)
        if anchor.campaign != quest.campaign or anchor.priority is not quest.priority:
            raise FailedPrecondition(
                f"{anchor.name} is not in the same campaign and priority; change the priority first",
                field=anchor_field,
            )
        with self.store.transaction() as conn:
            rows = conn.execute(
                "SELECT id FROM quests WHERE campaign = ? AND priority_rank = ? AND id != ? "
                "AND state IN ('QUEUED', 'VALIDATING') ORDER BY position, create_time",
                (quest.campaign, quest.priority.rank, quest.quest_id),
            ).fetchall()
            order = [r["id"] for r in rows]
            index = order.index(anchor.quest_id) + (0 if before else 1)
            order.insert(index, quest.quest_id)
            for position, quest_id in enumerate(order):
                conn.execute("UPDATE quests SET position = ? WHERE id = ?", (position, quest_id))
        return self.get(quest.quest_id)

    def delete(self, name: str) -> Quest:
        quest = self.get(name)
        if quest.state in (QuestState.RUNNING, QuestState.PAUSED):
            raise FailedPrecondition(
                f"quest {quest.quest_id} is {quest.state.value}; skip it first", field="name"
            )
        self.store.execute("DELETE FROM quests WHERE id = ?", (quest.quest_id,))
        if quest.file_path:
            # The quest's own directory (quests/<id>/), whatever depth the file sits at inside it.
            file_path = Path(quest.file_path)
            directory = next((p for p in file_path.parents if p.name == quest.quest_id), file_path.parent)
            shutil.rmtree(directory, ignore_errors=True)
        if quest.run_dir:
            shutil.rmtree(quest.run_dir, ignore_errors=True)
        return quest

    def retry(self, name: str) -> Quest:
        """FAILED/SKIPPED go back to the tail of the queue; REJECTED goes back to VALIDATING."""
        quest = self.get(name)
        if quest.state not in RETRYABLE_STATES:
            raise FailedPrecondition(
                f"quest {quest.quest_id} is {quest.state.value}; only FAILED, SKIPPED or REJECTED can be retried",
                field="name",
            )
        state = QuestState.VALIDATING if quest.state is QuestState.REJECTED else QuestState.QUEUED
        with self.store.transaction() as conn:
            position = self._tail_position(conn, quest.campaign, quest.priority)
            conn.execute(
                "UPDATE quests SET state = ?, position = ?, state_reason = '', worker_restarts = 0, "
                "steps_done = 0, end_time = 0, run_dir = '' WHERE id = ?",
                (state.value, position, quest.quest_id),
            )
        if quest.run_dir:
            # A retried quest starts from scratch: its old checkpoints belong to the failed attempt.
            shutil.rmtree(quest.run_dir, ignore_errors=True)
        return self.get(quest.quest_id)

    def mark_started(
        self, name: str, *, run_dir: str, global_step_offset: int, trained_tokens_offset: int
    ) -> Quest:
        quest = self.get(name)
        changed = self.store.execute(
            "UPDATE quests SET state = 'RUNNING', attempts = attempts + 1, run_dir = ?, global_step_offset = ?, "
            "trained_tokens_offset = ?, start_time = ?, state_reason = '' WHERE id = ? AND state IN ('QUEUED', "
            "'PAUSED', 'RUNNING')",
            (run_dir, global_step_offset, trained_tokens_offset, time.time(), quest.quest_id),
        ).rowcount
        if not changed:
            # E.g. pruned by a level-up between being picked and being started.
            raise FailedPrecondition(f"quest {quest.quest_id} is {self.get(name).state.value}, not startable",
                                     field="name")
        return self.get(quest.quest_id)

    def mark_resumed(self, name: str) -> Quest:
        self.store.execute(
            "UPDATE quests SET state = 'RUNNING', state_reason = '' WHERE id = ?", (resource_id(name, "quests"),)
        )
        return self.get(name)

    def set_worker(self, name: str, pid: int) -> None:
        self.store.execute("UPDATE quests SET worker_pid = ? WHERE id = ?", (pid, resource_id(name, "quests")))

    def count_restart(self, name: str) -> int:
        quest_id = resource_id(name, "quests")
        self.store.execute("UPDATE quests SET worker_restarts = worker_restarts + 1 WHERE id = ?", (quest_id,))
        return self.get(quest_id).worker_restarts

    def set_reason(self, name: str, reason: str) -> Quest:
        """Explain the quest's current state (e.g. why it still waits) without changing it."""
        self.store.execute("UPDATE quests SET state_reason = ? WHERE id = ?", (reason, resource_id(name, "quests")))
        return self.get(name)

    def record_steps(self, name: str, *, steps_done: int, steps_total: int) -> None:
        self.store.execute(
            "UPDATE quests SET steps_done = ?, steps_total = ? WHERE id = ?",
            (steps_done, steps_total, resource_id(name, "quests")),
        )

    def finish(self, name: str, state: QuestState, reason: str = "") -> Quest:
        self.store.execute(
            "UPDATE quests SET state = ?, state_reason = ?, end_time = ?, worker_pid = 0 WHERE id = ?",
            (
                state.value,
                reason,
                time.time() if state in (QuestState.COMPLETED, QuestState.FAILED, QuestState.SKIPPED) else 0.0,
                resource_id(name, "quests"),
            ),
        )
        return self.get(name)
