"""The ledger store: the append-only event table, the write transaction that publishes new sequences to
watchers once committed, and event reads (history, pages, caller appends with idempotency keys)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from services.kit.errors import InvalidArgument
from services.kit.paging import decode_offset, encode_token, page_size
from services.vault import names
from services.vault.catalog import Catalog, placeholders
from services.vault.models import EXTERNAL_EVENT_KINDS, AssetKind, LedgerEvent, LedgerEventKind
from services.vault.notifier import SequenceNotifier

# Looks up the catalog row of an asset or alias name (`(db, name, field) -> row`), raising NotFound.
FindAssetRow = Callable[[sqlite3.Connection, str, str], sqlite3.Row]


@dataclass
class Tx:
    """One write transaction: its connection and the ledger sequences it appended (published after commit)."""

    db: sqlite3.Connection
    sequences: list[int] = field(default_factory=list)


def event_from_row(row: sqlite3.Row) -> LedgerEvent:
    return LedgerEvent(row["sequence"], LedgerEventKind(row["kind"]), row["time"], row["asset"], row["campaign"],
                       row["hero"], AssetKind(row["asset_kind"]), row["alias"], row["message"],
                       json.loads(row["attributes"]))


class Ledger:
    def __init__(self, catalog: Catalog, clock: Callable[[], float]) -> None:
        self._catalog = catalog
        self._clock = clock
        self.notifier = SequenceNotifier(self.high_sequence())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A catalog write transaction; watchers learn its sequences only after it committed."""
        tx = None
        with self._catalog.transaction() as db:
            tx = Tx(db)
            yield tx
        if tx.sequences:
            self.notifier.publish(max(tx.sequences))

    def record(self, tx: Tx, kind: LedgerEventKind, *, asset: sqlite3.Row | None = None, alias: str = "",
               message: str = "", attributes: Mapping[str, str] | None = None, campaign: str = "",
               hero: str = "") -> int:
        """Append an event inside `tx`; an asset row supplies the event's asset, campaign, hero and kind."""
        cursor = tx.db.execute(
            "INSERT INTO ledger(kind, time, asset, campaign, hero, asset_kind, alias, message, attributes)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (int(kind), self._clock(), f"assets/{asset['id']}" if asset else "",
             asset["campaign"] if asset else campaign, asset["hero"] if asset else hero,
             asset["kind"] if asset else 0, alias, message, json.dumps(dict(attributes or {}), sort_keys=True)),
        )
        tx.sequences.append(cursor.lastrowid)
        return cursor.lastrowid

    def high_sequence(self) -> int:
        with self._catalog.reading() as db:
            return db.execute("SELECT COALESCE(MAX(sequence), 0) FROM ledger").fetchone()[0]

    def events(self, *, after_sequence: int = 0, campaign: str = "", kinds: Sequence[int] = (),
               limit: int = 500, up_to: int | None = None) -> list[LedgerEvent]:
        campaign = names.campaign_name(campaign, "campaign")
        if after_sequence < 0:
            raise InvalidArgument("must be >= 0", field="after_sequence")
        where, args = ["sequence > ?"], [after_sequence]
        if up_to is not None:
            where.append("sequence <= ?")
            args.append(up_to)
        if campaign:
            where.append("campaign=?")
            args.append(campaign)
        if kinds:
            where.append(f"kind IN ({placeholders(kinds)})")
            args += [int(k) for k in kinds]
        with self._catalog.reading() as db:
            rows = db.execute(f"SELECT * FROM ledger WHERE {' AND '.join(where)} ORDER BY sequence LIMIT ?",
                              [*args, limit]).fetchall()
        return [event_from_row(r) for r in rows]

    def page(self, *, page_size_: int = 0, page_token: str = "", after_sequence: int = 0,
             campaign: str = "") -> tuple[list[LedgerEvent], str]:
        size = page_size(page_size_)
        filters = {"after": after_sequence, "campaign": campaign}
        after = decode_offset(page_token, filters)  # the last sequence of the previous page (0: first page)
        events = self.events(after_sequence=after if page_token else after_sequence, campaign=campaign,
                             limit=size + 1)
        token = encode_token(events[size - 1].sequence, filters) if len(events) > size else ""
        return events[:size], token

    def append_external(self, event: LedgerEvent, idempotency_key: str, find_asset: FindAssetRow) -> LedgerEvent:
        """Append a caller's event; with `idempotency_key`, a repeat returns the event the key first appended."""
        if len(idempotency_key) > 256:
            raise InvalidArgument("at most 256 characters", field="idempotency_key")
        try:
            kind = LedgerEventKind(event.kind)
        except ValueError:
            raise InvalidArgument(f"unknown kind {event.kind}", field="event.kind") from None
        if kind not in EXTERNAL_EVENT_KINDS:
            raise InvalidArgument("only LEVEL_UP and NOTE events may be appended by callers", field="event.kind")
        campaign = names.campaign_name(event.campaign, "event.campaign")
        hero = names.hero_name(event.hero, "event.hero")
        with self.transaction() as tx:
            if idempotency_key:
                seen = tx.db.execute("SELECT sequence FROM ledger_keys WHERE key=?", (idempotency_key,)).fetchone()
                if seen is not None:
                    return self._event(tx.db, seen[0])
            row = find_asset(tx.db, event.asset, "event.asset") if event.asset else None
            sequence = self.record(tx, kind, asset=row, alias=event.alias, message=event.message,
                                   attributes=event.attributes, campaign=campaign, hero=hero)
            if idempotency_key:
                tx.db.execute("INSERT INTO ledger_keys(key, sequence) VALUES (?, ?)", (idempotency_key, sequence))
            return self._event(tx.db, sequence)

    @staticmethod
    def _event(db: sqlite3.Connection, sequence: int) -> LedgerEvent:
        return event_from_row(db.execute("SELECT * FROM ledger WHERE sequence=?", (sequence,)).fetchone())
