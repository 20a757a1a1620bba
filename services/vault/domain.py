"""The vault domain: a facade over the catalog stores and the blob store. Synchronous and thread-safe; the
servicer calls it off the event loop. Each concern lives in its own module (see README "Code map"); this
class only wires them together and is the one API the servicer, the app and the tests use.

Invariants:
- an asset is visible (listed, downloadable) only once ACTIVE; it becomes ACTIVE in the same transaction
  that records its manifest, after every file's bytes are in place with the declared size and sha256;
- a stored file (zone, location) is removed only when no asset in a state other than DELETED references it;
- every state change of an asset or alias appends a ledger event in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from services.vault.aliases import AliasStore
from services.vault.assets import AssetStore
from services.vault.blobstore import ZoneSet
from services.vault.catalog import Catalog
from services.vault.config import VaultConfig
from services.vault.deletion import Deleter
from services.vault.downloads import Download, open_download
from services.vault.evals import EvalStore
from services.vault.gc import GarbageCollector
from services.vault.ledger import Ledger
from services.vault.models import (
    Alias,
    Asset,
    AssetFile,
    Eval,
    GcResult,
    LedgerEvent,
    Lineage,
    RetentionPolicy,
    Stats,
    Upload,
    VerifyResult,
)
from services.vault.policies import PolicyStore
from services.vault.registration import Registrar
from services.vault.stats import compute_stats
from services.vault.upload_store import UploadStore
from services.vault.uploads import UploadWriter
from services.vault.verify import Verifier

__all__ = ["Download", "VaultDomain"]


class VaultDomain:
    def __init__(self, config: VaultConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self._catalog = Catalog(config.state_dir / "catalog.sqlite3")
        self.zones = ZoneSet(config.zones, config.default_zone)
        self._ledger = Ledger(self._catalog, clock)
        self.notifier = self._ledger.notifier
        self._assets = AssetStore(self._catalog, self._ledger, clock)
        self._aliases = AliasStore(self._catalog, self._ledger, self._assets, clock)
        self._evals = EvalStore(self._catalog, self._ledger, self._assets, clock)
        self._registrar = Registrar(self._ledger, self._assets, self._aliases, self.zones, clock)
        self._uploads = UploadStore(self._catalog, self._ledger, self._assets, self._registrar, self.zones, clock,
                                    sync_every_bytes=config.sync_every_bytes)
        self._deleter = Deleter(self._catalog, self._ledger, self._assets, self._aliases, self.zones)
        self._policies = PolicyStore(self._catalog, self._ledger, self.zones)
        self._gc = GarbageCollector(self._catalog, self._ledger, self._assets, self._deleter, self._policies,
                                    self._uploads, self.zones, clock,
                                    pause_between_deletions_s=config.gc_pause_between_deletions_s,
                                    upload_ttl_s=config.upload_ttl_s)
        self._verifier = Verifier(self._catalog, self._ledger, self._assets, self.zones, clock)
        # Called (outside any transaction) with the campaign of each checkpoint that becomes ACTIVE.
        self.checkpoint_listeners: list[Callable[[str], None]] = self._registrar.checkpoint_listeners

    @classmethod
    def from_settings(cls, settings: Any) -> VaultDomain:
        return cls(VaultConfig.from_settings(settings))

    def close(self) -> None:
        self.notifier.close()
        self._catalog.close()

    # -- uploads and registration -------------------------------------------------------------------------
    def create_upload(self, *, kind: int, files: Sequence[AssetFile], lineage: Lineage | None = None,
                      labels: Mapping[str, str] | None = None, zone: str = "", display_name: str = "",
                      request_id: str = "") -> Upload:
        return self._uploads.create(kind=kind, files=files, lineage=lineage, labels=labels, zone=zone,
                                    display_name=display_name, request_id=request_id)

    def get_upload(self, name: str) -> Upload:
        return self._uploads.get(name)

    def open_writer(self, upload: str, path: str, offset: int) -> UploadWriter:
        """Start writing one file of an open upload at `offset` (which must equal its received_bytes)."""
        return self._uploads.open_writer(upload, path, offset)

    def commit_upload(self, name: str) -> Asset:
        return self._uploads.commit(name)

    def abort_upload(self, name: str) -> None:
        self._uploads.abort(name)

    def register_in_place(self, *, zone: str, path: str, kind: int, display_name: str = "",
                          lineage: Lineage | None = None, labels: Mapping[str, str] | None = None) -> Asset:
        return self._registrar.register_in_place(zone=zone, path=path, kind=kind, display_name=display_name,
                                                 lineage=lineage, labels=labels)

    # -- assets ---------------------------------------------------------------------------------------------
    def get_asset(self, name: str) -> Asset:
        return self._assets.get(name)

    def list_assets(self, *, page_size_: int = 0, page_token: str = "", kind: int = 0, campaign: str = "",
                    hero: str = "", show_deleted: bool = False, labels: Mapping[str, str] | None = None
                    ) -> tuple[list[Asset], str, int]:
        return self._assets.list(page_size_=page_size_, page_token=page_token, kind=kind, campaign=campaign,
                                 hero=hero, show_deleted=show_deleted, labels=labels)

    def query_checkpoints(self, *, page_size_: int = 0, page_token: str = "", hero: str = "", campaign: str = "",
                          skill: str = "", order_by: str = "", min_global_step: int = 0, level: int = 0
                          ) -> tuple[list[tuple[Asset, Eval | None]], str]:
        return self._evals.query_checkpoints(page_size_=page_size_, page_token=page_token, hero=hero,
                                             campaign=campaign, skill=skill, order_by=order_by,
                                             min_global_step=min_global_step, level=level)

    def open_download(self, asset: str, path: str, offset: int = 0) -> Download:
        return open_download(self._catalog, self._assets, self.zones, asset, path, offset)

    def update_labels(self, name: str, set_labels: Mapping[str, str], remove: Sequence[str]) -> Asset:
        return self._assets.update_labels(name, set_labels, remove)

    def set_pinned(self, name: str, pinned: bool, note: str = "") -> Asset:
        return self._assets.set_pinned(name, pinned, note)

    def delete_asset(self, name: str, force: bool = False) -> Asset:
        return self._deleter.delete(name, force)

    # -- aliases --------------------------------------------------------------------------------------------
    def set_alias(self, alias: Alias, only_if_better: bool = False) -> tuple[Alias, bool]:
        return self._aliases.set(alias, only_if_better)

    def resolve_alias(self, name: str) -> tuple[Alias, Asset]:
        return self._aliases.resolve(name)

    def list_aliases(self, campaign: str, page_size_: int = 0, page_token: str = "") -> tuple[list[Alias], str]:
        return self._aliases.list(campaign, page_size_, page_token)

    def delete_alias(self, name: str) -> None:
        self._aliases.delete(name)

    # -- evals ----------------------------------------------------------------------------------------------
    def attach_eval(self, asset: str, ev: Eval) -> Eval:
        return self._evals.attach(asset, ev)

    def list_evals(self, *, page_size_: int = 0, page_token: str = "", asset: str = "", campaign: str = "",
                   skill: str = "") -> tuple[list[Eval], str]:
        return self._evals.list(page_size_=page_size_, page_token=page_token, asset=asset, campaign=campaign,
                                skill=skill)

    # -- ledger ---------------------------------------------------------------------------------------------
    def ledger_events(self, *, after_sequence: int = 0, campaign: str = "", kinds: Sequence[int] = (),
                      limit: int = 500, up_to: int | None = None) -> list[LedgerEvent]:
        return self._ledger.events(after_sequence=after_sequence, campaign=campaign, kinds=kinds, limit=limit,
                                   up_to=up_to)

    def list_ledger(self, *, page_size_: int = 0, page_token: str = "", after_sequence: int = 0,
                    campaign: str = "") -> tuple[list[LedgerEvent], str]:
        return self._ledger.page(page_size_=page_size_, page_token=page_token, after_sequence=after_sequence,
                                 campaign=campaign)

    def append_event(self, event: LedgerEvent, idempotency_key: str = "") -> LedgerEvent:
        """Append a caller's event; with `idempotency_key`, a repeat returns the event the key first appended."""
        return self._ledger.append_external(event, idempotency_key, self._assets.row)

    def high_sequence(self) -> int:
        return self._ledger.high_sequence()

    # -- retention and GC -----------------------------------------------------------------------------------
    def set_policy(self, policy: RetentionPolicy) -> RetentionPolicy:
        return self._policies.set(policy)

    def get_policy(self, campaign: str) -> RetentionPolicy:
        return self._policies.get(campaign)

    def retain_after_registration(self, campaign: str) -> GcResult:
        """The loop's retention run for one campaign (see GarbageCollector.retain_after_registration)."""
        return self._gc.retain_after_registration(campaign)

    def run_gc(self, campaign: str = "", dry_run: bool = False, *, loop: bool = False) -> GcResult:
        return self._gc.run(campaign, dry_run, loop=loop)

    def expire_uploads(self) -> int:
        return self._gc.expire_uploads()

    def sweep_orphans(self) -> tuple[int, int]:
        return self._gc.sweep_orphans()

    # -- verify and stats -----------------------------------------------------------------------------------
    def verify_asset(self, name: str) -> VerifyResult:
        return self._verifier.verify(name)

    def oldest_unverified(self) -> str | None:
        return self._verifier.oldest_unverified()

    def stats(self) -> Stats:
        return compute_stats(self._catalog)
