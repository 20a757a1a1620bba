"""The alias store: `campaigns/{c}/aliases/{alias}` rows — the system `latest`, ranked `best/<skill>` and user
pins — and the ledger events of their moves and deletions."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.kit.paging import decode_token, encode_token, page_size
from services.vault import names
from services.vault.assets import AssetStore
from services.vault.catalog import Catalog
from services.vault.ledger import Ledger, Tx
from services.vault.models import Alias, Asset, AssetKind, AssetState, LedgerEventKind, MetricDirection

LATEST = "latest"


def alias_from_row(row: sqlite3.Row) -> Alias:
    return Alias(names.alias_name(row["campaign"], row["alias"]), f"assets/{row['id']}", bool(row["system"]),
                 row["metric"], row["metric_value"], MetricDirection(row["direction"]), row["update_time"])


class AliasStore:
    def __init__(self, catalog: Catalog, ledger: Ledger, assets: AssetStore, clock: Callable[[], float]) -> None:
        self._catalog = catalog
        self._ledger = ledger
        self._assets = assets
        self._clock = clock

    # -- inside a caller's transaction ----------------------------------------------------------------------
    def move(self, tx: Tx, campaign: str, alias: str, asset: sqlite3.Row, *, system: bool, metric: str = "",
             value: float = 0.0, direction: MetricDirection = MetricDirection.UNSPECIFIED) -> None:
        tx.db.execute(
            "INSERT INTO aliases(campaign, alias, asset_pk, system, metric, metric_value, direction, update_time)"
            " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(campaign, alias) DO UPDATE SET asset_pk=excluded.asset_pk,"
            " system=excluded.system, metric=excluded.metric, metric_value=excluded.metric_value,"
            " direction=excluded.direction, update_time=excluded.update_time",
            (campaign, alias, asset["pk"], int(system), metric, value, int(direction), self._clock()),
        )
        attributes = {"metric": metric, "metric_value": repr(value)} if metric else {}
        self._ledger.record(tx, LedgerEventKind.ALIAS_MOVED, asset=asset, alias=names.alias_name(campaign, alias),
                            attributes=attributes, campaign=campaign)

    def advance_latest(self, tx: Tx, asset: sqlite3.Row) -> None:
        """`latest` follows each new checkpoint of its campaign whose step is at least the current target's."""
        if asset["kind"] != AssetKind.CHECKPOINT or not asset["campaign"]:
            return
        current = tx.db.execute(
            "SELECT a.global_step FROM aliases l JOIN assets a ON a.pk=l.asset_pk"
            " WHERE l.campaign=? AND l.alias='latest'", (asset["campaign"],)).fetchone()
        if current is None or asset["global_step"] >= current[0]:
            self.move(tx, asset["campaign"], LATEST, asset, system=True)

    @staticmethod
    def held_by(db: sqlite3.Connection, pk: int) -> list[sqlite3.Row]:
        """(campaign, alias) of every alias pointing at the asset."""
        return db.execute("SELECT campaign, alias FROM aliases WHERE asset_pk=?", (pk,)).fetchall()

    def drop_all_of(self, tx: Tx, asset: sqlite3.Row) -> None:
        """Remove every alias of an asset that is leaving every view."""
        for a in self.held_by(tx.db, asset["pk"]):
            tx.db.execute("DELETE FROM aliases WHERE campaign=? AND alias=?", (a["campaign"], a["alias"]))
            self._ledger.record(tx, LedgerEventKind.ALIAS_DELETED, asset=asset, alias=names.alias_name(*a),
                                campaign=a["campaign"])

    @staticmethod
    def get(db: sqlite3.Connection, campaign: str, alias: str) -> Alias | None:
        row = db.execute("SELECT l.*, a.id FROM aliases l JOIN assets a ON a.pk=l.asset_pk"
                         " WHERE l.campaign=? AND l.alias=?", (campaign, alias)).fetchone()
        return alias_from_row(row) if row else None

    # -- requests ---------------------------------------------------------------------------------------
    def set(self, alias: Alias, only_if_better: bool = False) -> tuple[Alias, bool]:
        campaign, alias_id = names.split_alias(alias.name, "alias.name")
        if alias_id in names.SYSTEM_ALIASES:
            raise InvalidArgument(f"{alias_id!r} is system-managed", field="alias.name")
        best = alias_id.startswith(names.BEST_PREFIX)
        direction = MetricDirection(alias.direction)
        if best:
            if not alias.metric:
                raise InvalidArgument("best/... aliases record the metric they rank by", field="alias.metric")
            if direction == MetricDirection.UNSPECIFIED:
                raise InvalidArgument("best/... aliases need MAXIMIZE or MINIMIZE", field="alias.direction")
        elif only_if_better:
            raise InvalidArgument("only best/... aliases compare metrics", field="only_if_better")
        with self._ledger.transaction() as tx:
            target = self._assets.row(tx.db, alias.asset, "alias.asset")
            if target["state"] != AssetState.ACTIVE:
                raise FailedPrecondition(f"asset is {AssetState(target['state']).name}", field="alias.asset")
            if target["campaign"] and target["campaign"] != campaign:
                raise InvalidArgument(f"asset belongs to {target['campaign']}, not {campaign}", field="alias.asset")
            current = self.get(tx.db, campaign, alias_id)
            if current and only_if_better and current.metric == alias.metric:
                better = (alias.metric_value > current.metric_value if direction == MetricDirection.MAXIMIZE
                          else alias.metric_value < current.metric_value)
                if not better:
                    return current, False
            if current and current.asset == f"assets/{target['id']}" and current.metric_value == alias.metric_value:
                return current, False
            self.move(tx, campaign, alias_id, target, system=best, metric=alias.metric, value=alias.metric_value,
                      direction=direction)
            return self.get(tx.db, campaign, alias_id), True  # type: ignore[return-value]

    def resolve(self, name: str) -> tuple[Alias, Asset]:
        campaign, alias_id = names.split_alias(name, "name")
        with self._catalog.reading() as db:
            alias = self.get(db, campaign, alias_id)
            if alias is None:
                raise NotFound(f"{name!r} does not exist", field="name")
            return alias, self._assets.model(db, self._assets.row(db, alias.asset))

    def list(self, campaign: str, page_size_: int = 0, page_token: str = "") -> tuple[list[Alias], str]:
        campaign = names.campaign_name(campaign, "campaign")
        if not campaign:
            raise InvalidArgument("must be campaigns/{campaign}", field="campaign")
        size = page_size(page_size_)
        after = decode_token(page_token, {"campaign": campaign}) or ""
        with self._catalog.reading() as db:
            rows = db.execute("SELECT l.*, a.id FROM aliases l JOIN assets a ON a.pk=l.asset_pk"
                              " WHERE l.campaign=? AND l.alias>? ORDER BY l.alias LIMIT ?",
                              (campaign, after, size + 1)).fetchall()
        token = encode_token(rows[size - 1]["alias"], {"campaign": campaign}) if len(rows) > size else ""
        return [alias_from_row(r) for r in rows[:size]], token

    def delete(self, name: str) -> None:
        campaign, alias_id = names.split_alias(name, "name")
        if alias_id in names.SYSTEM_ALIASES:
            raise InvalidArgument(f"{alias_id!r} is system-managed", field="name")
        with self._ledger.transaction() as tx:
            row = tx.db.execute("SELECT a.* FROM aliases l JOIN assets a ON a.pk=l.asset_pk"
                                " WHERE l.campaign=? AND l.alias=?", (campaign, alias_id)).fetchone()
            if row is None:
                raise NotFound(f"{name!r} does not exist", field="name")
            tx.db.execute("DELETE FROM aliases WHERE campaign=? AND alias=?", (campaign, alias_id))
            self._ledger.record(tx, LedgerEventKind.ALIAS_DELETED, asset=row, alias=name, campaign=campaign)
