"""The retention policy store: one policy per campaign, and `campaigns/-` for every campaign without one."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, replace

from services.kit.errors import InvalidArgument, NotFound
from services.vault import names
from services.vault.blobstore import ZoneSet
from services.vault.catalog import Catalog
from services.vault.ledger import Ledger
from services.vault.models import AssetKind, RetentionPolicy

DEFAULT_POLICY = "campaigns/-"


class PolicyStore:
    def __init__(self, catalog: Catalog, ledger: Ledger, zones: ZoneSet) -> None:
        self._catalog = catalog
        self._ledger = ledger
        self._zones = zones

    def set(self, policy: RetentionPolicy) -> RetentionPolicy:
        campaign = names.campaign_name(policy.campaign, "policy.campaign", allow_default=True)
        if not campaign:
            raise InvalidArgument("must be campaigns/{campaign} or campaigns/-", field="policy.campaign")
        for field_name in ("keep_latest", "min_evals_before_delete", "keep_newer_than_s"):
            if getattr(policy, field_name) < 0:
                raise InvalidArgument("must be >= 0", field=f"policy.{field_name.removesuffix('_s')}")
        for zone, cap in policy.zone_byte_caps.items():
            self._zones.pick(zone, "policy.zone_byte_caps")
            if cap < 0:
                raise InvalidArgument(f"cap for {zone!r} must be >= 0", field="policy.zone_byte_caps")
        policy = replace(policy, campaign=campaign, zone_byte_caps=dict(policy.zone_byte_caps))
        with self._ledger.transaction() as tx:
            tx.db.execute("INSERT INTO retention_policies(campaign, policy) VALUES (?, ?) ON CONFLICT(campaign)"
                          " DO UPDATE SET policy=excluded.policy", (campaign, json.dumps(asdict(policy))))
        return policy

    def get(self, campaign: str) -> RetentionPolicy:
        campaign = names.campaign_name(campaign, "campaign", allow_default=True)
        with self._catalog.reading() as db:
            row = db.execute("SELECT policy FROM retention_policies WHERE campaign=?", (campaign,)).fetchone()
        if row is None:
            raise NotFound(f"no retention policy for {campaign!r}", field="campaign")
        return RetentionPolicy(**json.loads(row[0]))

    @staticmethod
    def effective(db: sqlite3.Connection, campaign: str) -> dict[str, RetentionPolicy]:
        """The policy that applies to `campaign` (all campaigns when empty), the default filling gaps."""
        stored = {r[0]: RetentionPolicy(**json.loads(r[1]))
                  for r in db.execute("SELECT campaign, policy FROM retention_policies")}
        default = stored.pop(DEFAULT_POLICY, None)
        if campaign:
            chosen = stored.get(campaign) or default
            return {campaign: chosen} if chosen else {}
        if default is not None:
            for (c,) in db.execute("SELECT DISTINCT campaign FROM assets WHERE kind=? AND campaign != ''",
                                   (int(AssetKind.CHECKPOINT),)):
                stored.setdefault(c, default)
        return stored
