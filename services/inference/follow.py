"""The served default model, and every model loaded from a vault alias, follow that alias as it moves.

A thread follows the vault ledger (`WatchLedger`, ALIAS_MOVED events, replayed from the start and then live,
reconnecting after a failure) and records where each alias points now. The follower task on the event loop
wakes on each change and reconciles the pool with those facts: the default model is loaded from the alias
it follows (or from its fallback until the alias exists), and a model following an alias that moved is
swapped to the new asset (the old one answers until the new one is READY). A burst of moves — or the replay
of a long history — is coalesced: only where an alias points *now* is ever loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from services.inference.pool import FAILED, READY, LoadSpec, ModelPool
from services.inference.references import alias_name, parse_reference
from services.kit.errors import RealmError

log = structlog.get_logger(__name__)

LATEST = "latest"


@dataclass(frozen=True)
class DefaultSpec:
    model_id: str
    source: str  # an alias reference, an asset, a local directory or a URL
    backend: str = ""
    campaign: str = ""  # for a short alias name; "" = the campaign whose `latest` moved last
    fallback: str = ""


class AliasTable:
    """Where each alias points, as last seen on the ledger; written by the ledger thread, read on the loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._assets: dict[str, str] = {}
        self.latest_campaign = ""  # the campaign whose `latest` moved most recently
        self.cursor = 0

    def moved(self, sequence: int, alias: str, asset: str, campaign: str) -> None:
        with self._lock:
            self._assets[alias] = asset
            self.cursor = max(self.cursor, sequence)
            if alias.endswith(f"/aliases/{LATEST}"):
                self.latest_campaign = campaign.removeprefix("campaigns/") or alias.split("/")[1]

    def deleted(self, sequence: int, alias: str) -> None:
        with self._lock:
            self._assets.pop(alias, None)
            self.cursor = max(self.cursor, sequence)

    def asset(self, alias: str) -> str:
        with self._lock:
            return self._assets.get(alias, "")


class AliasFollower:
    def __init__(self, pool: ModelPool, vault_client, *, default: DefaultSpec | None,
                 retry_seconds: float = 5.0, on_default_ready: Callable[[], None] | None = None) -> None:
        self._pool = pool
        self._vault = vault_client
        self._default = default
        self._retry_seconds = retry_seconds
        self._on_default_ready = on_default_ready or (lambda: None)
        self.table = AliasTable()
        self._changed = asyncio.Event()
        self._stopping = threading.Event()
        self._call = None
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failed: set[tuple[str, str]] = set()  # (model, asset) loads that failed: not retried
        self._background: set[asyncio.Task] = set()

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._pool.follow_hook = self._changed.set  # a new alias-following model: reconcile (and follow) now
        self._task = self._loop.create_task(self._reconcile_forever())

    def _ensure_following(self) -> None:
        """Start the ledger thread the first time anything follows an alias (a service that never serves
        from the vault never connects to it)."""
        if self._thread is None and self._vault is not None and not self._stopping.is_set():
            self._thread = threading.Thread(target=self._follow_ledger, name="alias-follower", daemon=True)
            self._thread.start()

    async def close(self) -> None:
        self._stopping.set()
        call = self._call
        if call is not None:
            call.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)

    # -- the ledger thread ---------------------------------------------------------------------------

    def _follow_ledger(self) -> None:
        messages = self._vault.messages
        kinds = [messages.LEDGER_EVENT_KIND_ALIAS_MOVED, messages.LEDGER_EVENT_KIND_ALIAS_DELETED]
        while not self._stopping.is_set():
            try:
                self._call = self._vault.WatchLedger(messages.WatchLedgerRequest(
                    after_sequence=self.table.cursor, kinds=kinds))
                for response in self._call:
                    event = response.event
                    if event.kind == messages.LEDGER_EVENT_KIND_ALIAS_MOVED:
                        self.table.moved(event.sequence, event.alias, event.asset, event.campaign)
                    else:
                        self.table.deleted(event.sequence, event.alias)
                    self._wake()  # coalesced: the loop reconciles with whatever the table says when it runs
            except Exception as error:  # vault down or restarting: retry, keep serving what is loaded
                if self._stopping.is_set():
                    return
                log.warning("vault ledger follow interrupted; retrying", error=str(error)[:200],
                            retry_seconds=self._retry_seconds)
            self._stopping.wait(self._retry_seconds)

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the service is shutting down
            self._loop.call_soon_threadsafe(self._changed.set)

    # -- reconciling on the event loop ---------------------------------------------------------------

    async def _reconcile_forever(self) -> None:
        await self._reconcile()
        while True:
            await self._changed.wait()
            self._changed.clear()
            try:
                await self._reconcile()
            except Exception:  # never let one bad reconcile stop the follower
                log.exception("reconciling followed aliases failed")

    def default_alias(self) -> str:
        """The full alias the default model follows now ("" when it follows none, or none is known yet)."""
        spec = self._default
        reference = parse_reference(spec.source) if spec is not None else None
        if reference is None or reference.kind != "alias":
            return ""
        campaign = reference.campaign or spec.campaign or self.table.latest_campaign
        return alias_name(campaign, reference.alias) if campaign else ""

    async def _reconcile(self) -> None:
        self._pool.followed_campaign = (self._default.campaign if self._default and self._default.campaign
                                        else self.table.latest_campaign)
        if self._default is not None and parse_reference(self._default.source) is not None:
            self._ensure_following()
        if self._default is not None:
            await self._reconcile_default()
        default_id = self._default.model_id if self._default is not None else None
        views = self._pool.list()
        if any(view.followed_alias for view in views):
            self._ensure_following()
        for view in views:
            model_id = view.name.removeprefix("models/")
            asset = self.table.asset(view.followed_alias) if view.followed_alias else ""
            if (model_id != default_id and asset and view.state == READY and view.asset != asset
                    and (model_id, asset) not in self._failed):
                await self._load(LoadSpec(source=view.followed_alias, model_id=model_id), asset, follow=True)

    async def _reconcile_default(self) -> None:
        spec = self._default
        current = self._pool.entry_view(spec.model_id)
        if current is not None and current.state not in (READY, FAILED):
            self._recheck_when_settled(spec.model_id)  # someone else's load: look again when it ends
            return
        reference = parse_reference(spec.source)
        if reference is None or reference.kind == "asset":  # a fixed checkpoint: load it once
            if current is None:
                await self._load(LoadSpec(source=spec.source, model_id=spec.model_id, backend=spec.backend), "",
                                 follow=False)
            return
        alias = self.default_alias()
        if alias:
            asset = self.table.asset(alias)
            stale = current is None or current.followed_alias != alias or bool(asset and current.asset != asset)
            if not stale:
                return
            if (spec.model_id, asset) not in self._failed and await self._load(
                    LoadSpec(source=alias, model_id=spec.model_id, backend=spec.backend), asset, follow=True):
                return
        current = self._pool.entry_view(spec.model_id)
        serving = current is not None and current.state == READY
        if not serving and spec.fallback and (spec.model_id, spec.fallback) not in self._failed:
            await self._load(LoadSpec(source=spec.fallback, model_id=spec.model_id, backend=spec.backend),
                             spec.fallback, follow=False)

    def _recheck_when_settled(self, model_id: str) -> None:
        async def wait_then_wake() -> None:
            with contextlib.suppress(RealmError):
                async for _ in self._pool.watch(f"models/{model_id}"):
                    pass
            self._changed.set()

        task = self._loop.create_task(wait_then_wake())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _load(self, spec: LoadSpec, asset: str, *, follow: bool) -> bool:
        """Load (swap) one model; a failure is logged and remembered so the same asset is not retried."""
        model_id = spec.model_id
        pinned = self._default is not None and model_id == self._default.model_id
        try:
            view = await self._pool.load(spec, wait=True, pinned=True if pinned else None, follow=follow)
        except RealmError as error:  # NotFound: the alias does not exist yet; others: keep what is served
            log.warning("loading a followed checkpoint failed; keeping what is served", model=model_id,
                        source=spec.source, error=error.message)
            self._failed.add((model_id, asset))
            return False
        log.info("followed checkpoint loaded", model=model_id, source=spec.source, asset=view.asset)
        if pinned:
            self._on_default_ready()
        return True
