"""The eval store: eval results attached to checkpoints, and the checkpoint queries that rank by them."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

from services.kit.errors import FailedPrecondition, InvalidArgument
from services.kit.paging import decode_offset, encode_token, page_size
from services.vault import names
from services.vault.assets import AssetStore
from services.vault.catalog import Catalog
from services.vault.ledger import Ledger
from services.vault.models import Asset, AssetKind, AssetState, Eval, LedgerEventKind

CHECKPOINT_ORDERS = ("global_step", "accuracy")


def eval_from_row(row: sqlite3.Row | None, asset: str) -> Eval | None:
    if row is None:
        return None
    return Eval(f"{asset}/evals/{row['id']}", asset, row["skill"], row["level"], row["accuracy"], row["correct"],
                row["total"], row["report_asset"], row["regime"], row["eval_set_hash"], json.loads(row["metrics"]),
                row["create_time"])


class EvalStore:
    def __init__(self, catalog: Catalog, ledger: Ledger, assets: AssetStore, clock: Callable[[], float]) -> None:
        self._catalog = catalog
        self._ledger = ledger
        self._assets = assets
        self._clock = clock

    def attach(self, asset: str, ev: Eval) -> Eval:
        if not ev.skill:
            raise InvalidArgument("must be set", field="eval.skill")
        if not 0.0 <= ev.accuracy <= 1.0:
            raise InvalidArgument("must be within 0..1", field="eval.accuracy")
        if ev.total < 0 or ev.correct < 0 or ev.correct > ev.total:
            raise InvalidArgument("needs 0 <= correct <= total", field="eval.correct")
        if ev.level < 0:
            raise InvalidArgument("must be >= 0", field="eval.level")
        with self._ledger.transaction() as tx:
            row = self._assets.row(tx.db, asset, "asset")
            if row["kind"] != AssetKind.CHECKPOINT or row["state"] != AssetState.ACTIVE:
                raise FailedPrecondition("evals attach to ACTIVE checkpoints", field="asset")
            if ev.report_asset:
                self._assets.row(tx.db, ev.report_asset, "eval.report_asset")
            eval_id = uuid.uuid4().hex[:16]
            tx.db.execute(
                "INSERT INTO evals(id, asset_pk, skill, level, accuracy, correct, total, report_asset, regime,"
                " eval_set_hash, metrics, create_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (eval_id, row["pk"], ev.skill, ev.level, ev.accuracy, ev.correct, ev.total, ev.report_asset,
                 ev.regime, ev.eval_set_hash, json.dumps(dict(ev.metrics)), self._clock()))
            self._ledger.record(tx, LedgerEventKind.EVAL_ATTACHED, asset=row,
                                attributes={"skill": ev.skill, "level": str(ev.level), "accuracy": repr(ev.accuracy)})
            e = tx.db.execute("SELECT * FROM evals WHERE id=?", (eval_id,)).fetchone()
            return eval_from_row(e, f"assets/{row['id']}")  # type: ignore[return-value]

    def list(self, *, page_size_: int = 0, page_token: str = "", asset: str = "", campaign: str = "",
             skill: str = "") -> tuple[list[Eval], str]:
        size = page_size(page_size_)
        campaign = names.campaign_name(campaign, "campaign")
        filters = {"asset": asset, "campaign": campaign, "skill": skill}
        after = decode_offset(page_token, filters)  # the pk of the previous page's last eval
        where, args = ["e.pk > ?"], [after]
        with self._catalog.reading() as db:
            if asset:
                where.append("e.asset_pk=?")
                args.append(self._assets.row(db, asset, "asset")["pk"])
            if campaign:
                where.append("a.campaign=?")
                args.append(campaign)
            if skill:
                where.append("e.skill=?")
                args.append(skill)
            rows = db.execute(f"SELECT e.*, a.id AS asset_id FROM evals e JOIN assets a ON a.pk=e.asset_pk"
                              f" WHERE {' AND '.join(where)} ORDER BY e.pk LIMIT ?", [*args, size + 1]).fetchall()
        token = encode_token(rows[size - 1]["pk"], filters) if len(rows) > size else ""
        return [eval_from_row(r, f"assets/{r['asset_id']}") for r in rows[:size]], token  # type: ignore[misc]

    def query_checkpoints(self, *, page_size_: int = 0, page_token: str = "", hero: str = "", campaign: str = "",
                          skill: str = "", order_by: str = "", min_global_step: int = 0, level: int = 0
                          ) -> tuple[list[tuple[Asset, Eval | None]], str]:
        """ACTIVE checkpoints, newest step first or (with a skill) best accuracy first, each with its best eval."""
        size = page_size(page_size_)
        hero = names.hero_name(hero, "hero")
        campaign = names.campaign_name(campaign, "campaign")
        order_by = order_by or "global_step"
        if order_by not in CHECKPOINT_ORDERS:
            raise InvalidArgument("must be 'global_step' or 'accuracy'", field="order_by")
        if order_by == "accuracy" and not skill:
            raise InvalidArgument("ordering by accuracy needs a skill", field="skill")
        if min_global_step < 0:
            raise InvalidArgument("must be >= 0", field="min_global_step")
        if level < 0:
            raise InvalidArgument("must be >= 0", field="level")
        if level and not skill:
            raise InvalidArgument("filtering by level needs a skill", field="level")
        filters = {"hero": hero, "campaign": campaign, "skill": skill, "order": order_by,
                   "min_step": min_global_step, "level": level}
        offset = decode_offset(page_token, filters)
        where = ["a.kind=?", "a.state=?", "a.global_step>=?"]
        args: list[Any] = [int(AssetKind.CHECKPOINT), int(AssetState.ACTIVE), min_global_step]
        if hero:
            where.append("a.hero=?")
            args.append(hero)
        if campaign:
            where.append("a.campaign=?")
            args.append(campaign)
        eval_filter = "e.asset_pk=a.pk AND e.skill=?" + (" AND e.level=?" if level else "")
        eval_args: list[Any] = [skill] + ([level] if level else [])
        if skill:
            best = f"(SELECT MAX(e.accuracy) FROM evals e WHERE {eval_filter})"
            where.append(f"{best} IS NOT NULL")
            args = eval_args + args + eval_args
            select = f"SELECT a.*, {best} AS best FROM assets a"
        else:
            select = "SELECT a.*, NULL AS best FROM assets a"
        order = "best DESC, a.global_step DESC, a.pk DESC" if order_by == "accuracy" else \
            "a.global_step DESC, a.pk DESC"
        sql = f"{select} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ? OFFSET ?"
        with self._catalog.reading() as db:
            rows = db.execute(sql, [*args, size + 1, offset]).fetchall()
            assets = self._assets.to_models(db, rows[:size])
            results = []
            for row, asset in zip(rows[:size], assets, strict=True):
                best_eval = None
                if skill:
                    e = db.execute(f"SELECT e.* FROM evals e, assets a WHERE a.pk=? AND {eval_filter}"
                                   " ORDER BY e.accuracy DESC, e.pk DESC LIMIT 1",
                                   [row["pk"], *eval_args]).fetchone()
                    best_eval = eval_from_row(e, asset.name)
                results.append((asset, best_eval))
        token = encode_token(offset + size, filters) if len(rows) > size else ""
        return results, token
