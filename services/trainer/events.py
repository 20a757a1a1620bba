"""Trainer events: a SQLite table with increasing sequence numbers plus an in-memory ring of the newest.

`publish` may be called from any thread. `follow(after_sequence)` is an async iterator that first replays
history (ring when it covers the range, else the table) and then yields new events as they are published,
so a watcher that reconnects with its last sequence sees every event exactly once; `follow(from_now=True)`
skips the history and yields only what is published after it starts.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from services.trainer.models import EventKind, RunState
from services.trainer.store import TrainerStore

RING_SIZE = 2048
REPLAY_BATCH = 500


@dataclass(frozen=True)
class Event:
    sequence: int
    kind: EventKind
    time: float
    campaign: str = ""
    quest: str = ""
    # StepMetrics field names: global_step, quest_step, loss, ..., memory_bytes.
    step: dict[str, Any] | None = None
    checkpoint: str = ""
    run_state: RunState | None = None
    message: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


def _payload(event: Event) -> str:
    return json.dumps(
        {
            "step": event.step,
            "checkpoint": event.checkpoint,
            "run_state": event.run_state.value if event.run_state else "",
            "message": event.message,
            "attributes": event.attributes,
        }
    )


def _from_row(row: Any) -> Event:
    payload = json.loads(row["payload_json"])
    return Event(
        sequence=row["sequence"],
        kind=EventKind(row["kind"]),
        time=row["time"],
        campaign=row["campaign"],
        quest=row["quest"],
        step=payload.get("step"),
        checkpoint=payload.get("checkpoint", ""),
        run_state=RunState(payload["run_state"]) if payload.get("run_state") else None,
        message=payload.get("message", ""),
        attributes=payload.get("attributes") or {},
    )


class EventLog:
    def __init__(self, store: TrainerStore, *, retention: int = 200_000) -> None:
        self.store = store
        self.retention = retention
        self._ring: deque[Event] = deque(maxlen=RING_SIZE)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._since_trim = 0
        for row in reversed(store.query("SELECT * FROM events ORDER BY sequence DESC LIMIT ?", (RING_SIZE,))):
            self._ring.append(_from_row(row))

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Followers live on this loop; publishers on other threads wake them through it."""
        self._loop = loop
        self._changed = asyncio.Event()

    @property
    def last_sequence(self) -> int:
        with self._lock:
            return self._ring[-1].sequence if self._ring else 0

    def publish(
        self,
        kind: EventKind,
        *,
        campaign: str = "",
        quest: str = "",
        step: dict[str, Any] | None = None,
        checkpoint: str = "",
        run_state: RunState | None = None,
        message: str = "",
        attributes: dict[str, str] | None = None,
    ) -> Event:
        draft = Event(0, kind, time.time(), campaign, quest, step, checkpoint, run_state, message,
                      {k: str(v) for k, v in (attributes or {}).items()})
        with self._lock:
            cursor = self.store.execute(
                "INSERT INTO events (kind, time, campaign, quest, payload_json) VALUES (?, ?, ?, ?, ?)",
                (kind.value, draft.time, campaign, quest, _payload(draft)),
            )
            event = Event(cursor.lastrowid, *[getattr(draft, f) for f in (
                "kind", "time", "campaign", "quest", "step", "checkpoint", "run_state", "message", "attributes")])
            self._ring.append(event)
            self._since_trim += 1
            if self._since_trim >= 1000:
                self._since_trim = 0
                self.store.execute("DELETE FROM events WHERE sequence <= ?", (event.sequence - self.retention,))
        self._wake()
        return event

    def _wake(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._signal()
        else:
            loop.call_soon_threadsafe(self._signal)

    def _signal(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def history(self, after_sequence: int, *, limit: int = REPLAY_BATCH) -> list[Event]:
        with self._lock:
            if self._ring and self._ring[0].sequence <= after_sequence + 1:
                return [e for e in self._ring if e.sequence > after_sequence][:limit]
        rows = self.store.query(
            "SELECT * FROM events WHERE sequence > ? ORDER BY sequence LIMIT ?", (after_sequence, limit)
        )
        return [_from_row(r) for r in rows]

    def max_int_attribute(self, kind: EventKind, *, campaign: str, attribute: str, match: dict[str, str],
                          after_sequence: int = 0) -> int:
        """The largest integer value of `attribute` among the campaign's events of this kind newer than
        after_sequence whose attributes equal `match`; 0 when there is none."""
        clauses, params = self._attribute_filter(match)
        row = self.store.query_one(
            "SELECT MAX(CAST(json_extract(payload_json, ?) AS INTEGER)) AS value FROM events "
            f"WHERE kind = ? AND campaign = ? AND sequence > ?{clauses}",
            (f"$.attributes.{attribute}", kind.value, campaign, after_sequence, *params),
        )
        return int(row["value"] or 0) if row else 0

    def has_event(self, kind: EventKind, *, campaign: str, match: dict[str, str]) -> bool:
        """Whether the campaign has an event of this kind whose attributes equal `match`."""
        clauses, params = self._attribute_filter(match)
        row = self.store.query_one(
            f"SELECT 1 FROM events WHERE kind = ? AND campaign = ?{clauses} LIMIT 1",
            (kind.value, campaign, *params),
        )
        return row is not None

    @staticmethod
    def _attribute_filter(match: dict[str, str]) -> tuple[str, list[str]]:
        clauses = "".join(" AND json_extract(payload_json, ?) = ?" for _ in match)
        params = [p for name, value in match.items() for p in (f"$.attributes.{name}", value)]
        return clauses, params

    async def follow(
        self, after_sequence: int = 0, *, kinds: Iterable[EventKind] = (), history_only: bool = False,
        from_now: bool = False,
    ) -> AsyncIterator[Event]:
        """Events after `after_sequence`; `from_now` (when after_sequence is 0) skips everything published before
        this call, so a live watcher does not pay for a replay of the history."""
        wanted = frozenset(kinds)
        cursor = max(0, after_sequence)
        if from_now and cursor == 0:
            cursor = self.last_sequence
        while True:
            changed = self._changed
            batch = await asyncio.to_thread(self.history, cursor) if cursor < self.last_sequence else []
            for event in batch:
                cursor = event.sequence
                if not wanted or event.kind in wanted:
                    yield event
            if batch:
                continue
            if history_only:
                return
            if changed is None:
                raise RuntimeError("EventLog.follow needs bind_loop() first")
            if cursor >= self.last_sequence:
                await changed.wait()
