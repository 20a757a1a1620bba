"""The pool of loaded models: loading (from the vault, a local directory or a TGI server), swapping, LRU
eviction under a model count and a memory budget, unloading, state watching, and routing of generation.

A model id keeps answering while a new checkpoint loads under the same id: the old backend serves until the
new one is READY and is closed after the swap; if the new one fails, the old one simply stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import structlog

from services.inference import metrics
from services.inference.backend import Accepted, Backend, Completion, GenerationEvent, Summary, collect
from services.inference.params import GenerationLimits, SamplingParams, check_messages, check_prompt
from services.inference.priority import Activity
from services.inference.references import parse_reference
from services.inference.vault_source import VaultCheckpointCache, is_vault_source
from services.kit.errors import (
    Aborted,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RealmError,
    ResourceExhausted,
)
from services.kit.mantra import Mantra, apply_mantra, read_mantra_file

log = structlog.get_logger(__name__)

LOADING, READY, FAILED, UNLOADING = "LOADING", "READY", "FAILED", "UNLOADING"
BACKEND_TRANSFORMERS, BACKEND_TGI = "transformers", "tgi"
MODEL_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")


@dataclass(frozen=True)
class LoadSpec:
    source: str
    model_id: str = ""
    backend: str = ""  # "" = transformers, or tgi for an http(s) source
    dtype: str = ""
    quantization: str = ""


@dataclass(frozen=True)
class PoolConfig:
    max_models: int = 2
    memory_budget_bytes: int = 0  # 0 = no budget
    # Alias / asset references as model ids (models/latest, models/assets/…) load on first use.
    on_demand: bool = True


@dataclass(frozen=True)
class ModelView:
    """A snapshot of one model, for the servicer and the CLI."""

    name: str
    source: str
    asset: str
    state: str
    backend: str
    device: str = ""
    dtype: str = ""
    memory_bytes: int = 0
    parameter_count: int = 0
    error: str = ""
    has_chat_template: bool = False
    is_adapter: bool = False
    load_time: float = 0.0
    last_used_time: float = 0.0
    active_requests: int = 0
    parent: str = ""
    pinned: bool = False
    followed_alias: str = ""
    global_step: int = 0


# Builds a backend from (spec, local checkpoint dir or TGI URL, model id); runs in a worker thread.
BackendFactory = Callable[[LoadSpec, str, str], Backend]


class _Entry:
    def __init__(self, model_id: str, spec: LoadSpec) -> None:
        self.model_id = model_id
        self.spec = spec
        self.asset = ""
        self.parent = ""
        self.global_step = 0
        self.pinned = False  # never evicted to make room (the served default)
        self.follows = False  # reloaded when the vault alias in spec.source moves
        self.mantra: Mantra | None = None  # the checkpoint's mantra.json: the system turn it was trained with
        self.state = LOADING
        self.error = ""
        self.backend: Backend | None = None
        self.load_time = 0.0
        self.last_used = 0.0
        self.task: asyncio.Task | None = None
        self.failure: RealmError | None = None  # what the last load raised, re-raised to a waiting caller
        self.changed = asyncio.Condition()
        self.version = 0  # bumped on every change, so a watcher never misses one

    def view(self) -> ModelView:
        info = self.backend.info if self.backend is not None else None
        return ModelView(
            name=f"models/{self.model_id}", source=self.spec.source, asset=self.asset, state=self.state,
            backend=info.backend if info else (self.spec.backend or BACKEND_TRANSFORMERS),
            device=info.device if info else "", dtype=info.dtype if info else "",
            memory_bytes=info.memory_bytes if info else 0, parameter_count=info.parameter_count if info else 0,
            error=self.error, has_chat_template=info.has_chat_template if info else False,
            is_adapter=info.is_adapter if info else False, load_time=self.load_time, last_used_time=self.last_used,
            active_requests=self.backend.active_requests if self.backend is not None else 0,
            parent=self.parent, pinned=self.pinned, global_step=self.global_step,
            followed_alias=self.spec.source if self.follows and "/aliases/" in self.spec.source else "",
        )

    def serving(self) -> tuple[Backend, str, str] | None:
        """(backend, asset, source) that serve a request now: captured together, so a swap mid-request
        cannot mislabel which checkpoint answered."""
        if self.backend is None:
            return None
        return self.backend, self.asset, self.spec.source


def mint_model_id(source: str) -> str:
    """A short readable id from a source: campaigns/c/aliases/best/bin -> c-best-bin, /x/ckpt-40 -> ckpt-40."""
    if source.startswith("campaigns/"):
        parts = source.split("/")
        base = "-".join([parts[1]] + parts[3:]) if len(parts) > 3 else parts[-1]
    elif source.startswith("assets/"):
        base = source.removeprefix("assets/")
    elif source.startswith(("http://", "https://")):
        base = "tgi-" + source.split("://", 1)[1]
    else:
        base = Path(source.rstrip("/")).name
    slug = re.sub(r"[^a-z0-9._-]+", "-", base.lower()).strip("-._")[:63]
    return slug or "model"


def parse_model_name(name: str, field: str = "name") -> str:
    model_id = name.removeprefix("models/")
    if not MODEL_ID_PATTERN.match(model_id):
        if parse_reference(model_id) is not None:  # models/best/bin, models/assets/…: served under that text
            return model_id
        raise InvalidArgument("expected models/{id} with id of [a-z0-9._-], at most 63 characters, or a vault "
                              "reference (latest, best/{skill}, assets/{asset}, campaigns/{c}/aliases/{alias})",
                              field=field)
    return model_id


def checkpoint_bytes(path: Path) -> int:
    """Weights on disk: the memory a checkpoint will need, known before loading it."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.name.endswith(WEIGHT_SUFFIXES))


class ModelPool:
    def __init__(self, factory: BackendFactory, config: PoolConfig,
                 vault_cache: VaultCheckpointCache | None = None, limits: GenerationLimits | None = None,
                 tgi_checkpoint_dirs: Mapping[str, str] | None = None) -> None:
        self._factory = factory
        # TGI URL -> the local copy of the checkpoint it serves (inference.tgi_tokenizers): its mantra.json.
        self._tgi_checkpoint_dirs = dict(tgi_checkpoint_dirs or {})
        self._config = config
        self._vault_cache = vault_cache
        self._limits = limits or GenerationLimits()
        self._entries: dict[str, _Entry] = {}
        self._lock = asyncio.Lock()
        # Campaign whose aliases short references (latest, best/bin) name; kept current by the AliasFollower,
        # which also sets `follow_hook` to hear of every new alias-following model.
        self.followed_campaign = ""
        self.follow_hook: Callable[[], None] | None = None
        # Interactive and background requests in flight (priority.py); app.py shares it with the engines.
        self.activity = Activity()

    # -- reads ---------------------------------------------------------------------------------------

    def list(self) -> list[ModelView]:
        return [self._entries[key].view() for key in sorted(self._entries)]

    def get(self, name: str) -> ModelView:
        return self._entry(name).view()

    def entry_view(self, model_id: str) -> ModelView | None:
        entry = self._entries.get(model_id)
        return entry.view() if entry is not None else None

    def _entry(self, name: str, field: str = "name") -> _Entry:
        model_id = parse_model_name(name, field)
        entry = self._entries.get(model_id)
        if entry is None:
            raise NotFound(f"model models/{model_id} is not loaded", field=field)
        return entry

    async def watch(self, name: str) -> AsyncIterator[ModelView]:
        """The model now, then after every change, until it is READY/FAILED or removed from the pool."""
        entry = self._entry(name)
        while True:
            seen = entry.version
            view = entry.view()
            yield view  # outside the condition's lock: a slow watcher must never hold up a load
            if view.state in (READY, FAILED) or self._entries.get(entry.model_id) is not entry:
                return
            async with entry.changed:
                await entry.changed.wait_for(lambda seen=seen: entry.version != seen)

    def is_ready(self, name: str) -> bool:
        entry = self._entries.get(name.removeprefix("models/"))
        return entry is not None and entry.state == READY

    # -- load / unload -------------------------------------------------------------------------------

    async def load(self, spec: LoadSpec, *, wait: bool = False, pinned: bool | None = None,
                   follow: bool | None = None) -> ModelView:
        """Load (or swap) a model. `pinned` / `follow` set those flags; None keeps what the entry has."""
        if not spec.source.strip():
            raise InvalidArgument("must not be empty", field="source")
        backend_kind = spec.backend or (BACKEND_TGI if spec.source.startswith(("http://", "https://"))
                                        else BACKEND_TRANSFORMERS)
        if backend_kind not in (BACKEND_TRANSFORMERS, BACKEND_TGI):
            raise InvalidArgument(f"unknown backend {spec.backend!r}", field="backend")
        model_id = parse_model_name(spec.model_id, "model_id") if spec.model_id else mint_model_id(spec.source)
        spec = replace(spec, backend=backend_kind, model_id=model_id)
        async with self._lock:
            entry = self._entries.get(model_id)
            if entry is not None and entry.task is not None and not entry.task.done():
                raise Aborted(f"models/{model_id} is already loading; watch it or retry when it settles",
                              field="model_id")
            if entry is not None and entry.state == UNLOADING:
                raise FailedPrecondition(f"models/{model_id} is being unloaded", field="model_id")
            if entry is None or entry.backend is None:
                flags = (entry.pinned, entry.follows) if entry is not None else (False, False)
                entry = _Entry(model_id, spec)
                entry.pinned, entry.follows = flags
                self._entries[model_id] = entry
            else:
                entry.error = ""
            if pinned is not None:
                entry.pinned = pinned
            if follow is not None:
                entry.follows = follow
            if entry.follows and self.follow_hook is not None:
                self.follow_hook()
            entry.state = LOADING
            previous_spec, entry.spec = entry.spec, spec
            entry.task = asyncio.create_task(self._load(entry, spec, previous_spec))
            self._update_gauges()
            await self._notify(entry)
            task = entry.task
        if wait:
            await asyncio.shield(task)
            if entry.failure is not None:
                raise entry.failure
        return entry.view()

    async def _load(self, entry: _Entry, spec: LoadSpec, previous_spec: LoadSpec) -> None:
        old_backend = entry.backend
        entry.failure = None
        try:
            location, asset, parent, step = await asyncio.to_thread(self._locate, spec)
            if spec.backend == BACKEND_TRANSFORMERS:
                await self._make_room(entry, await asyncio.to_thread(checkpoint_bytes, Path(location)))
            else:
                await self._make_room(entry, 0)
            # Read before the backend is built: a malformed mantra.json fails the load without leaking a model.
            # A TGI URL has no directory of its own; its local checkpoint copy (tokenizer dir) may carry one.
            mantra_dir = location if spec.backend == BACKEND_TRANSFORMERS else self._tgi_checkpoint_dirs.get(location)
            mantra = await asyncio.to_thread(read_mantra_file, Path(mantra_dir)) if mantra_dir else None
            backend = await asyncio.to_thread(self._factory, spec, location, entry.model_id)
        except Exception as error:
            if isinstance(error, RealmError):
                kind, message, field = type(error), error.message, error.field or "source"
            else:
                kind, message, field = FailedPrecondition, f"{type(error).__name__}: {error}", "source"
            if not isinstance(error, RealmError):
                log.exception("model load failed", model=entry.model_id, source=spec.source)
            else:
                log.warning("model load failed", model=entry.model_id, source=spec.source, error=message)
            if old_backend is not None:  # a failed swap: the old checkpoint keeps serving under this id
                entry.state, entry.spec = READY, previous_spec
                entry.error = f"loading {spec.source!r} failed, still serving {previous_spec.source!r}: {message}"
            else:
                entry.state, entry.error = FAILED, message
            entry.failure = kind(entry.error, field=field)
            self._update_gauges()
            await self._notify(entry)
            return
        entry.backend, entry.asset, entry.parent, entry.global_step = backend, asset, parent, step
        entry.mantra = mantra  # set with the backend (no await between): a request never mixes the two
        entry.state, entry.error = READY, ""
        entry.load_time = entry.last_used = time.time()
        self._update_gauges()
        await self._notify(entry)
        log.info("model ready", model=entry.model_id, source=spec.source, asset=asset, backend=spec.backend)
        if old_backend is not None:
            await self._close_when_idle(old_backend)

    def _locate(self, spec: LoadSpec) -> tuple[str, str, str, int]:
        """(local directory or URL, vault asset name or "", parent checkpoint, global step); blocking."""
        if spec.backend == BACKEND_TGI:
            if not spec.source.startswith(("http://", "https://")):
                raise InvalidArgument("the tgi backend takes the server's base URL (http://host:port)",
                                      field="source")
            return spec.source, "", "", 0
        if is_vault_source(spec.source):
            if self._vault_cache is None:
                raise FailedPrecondition("no vault is configured for this inference service", field="source")
            pulled = self._vault_cache.fetch_checkpoint(spec.source)
            return str(pulled.path), pulled.asset, pulled.parent, pulled.global_step
        path = Path(spec.source).expanduser()
        if not path.is_dir():
            raise NotFound(f"no checkpoint directory at {spec.source!r}", field="source")
        return str(path.resolve()), "", "", 0

    async def _make_room(self, loading: _Entry, needed_bytes: int) -> None:
        """Evict least recently used idle models until the new one fits the count and the memory budget."""
        async with self._lock:
            def others() -> list[_Entry]:
                return [e for e in self._entries.values() if e is not loading and e.backend is not None]

            def over() -> bool:
                count = len(others()) + (0 if loading.backend is not None else 1)
                used = sum(e.backend.info.memory_bytes for e in others())
                budget = self._config.memory_budget_bytes
                return count > self._config.max_models or (budget > 0 and used + needed_bytes > budget)

            budget = self._config.memory_budget_bytes
            if budget and needed_bytes > budget:
                raise ResourceExhausted(f"checkpoint needs {needed_bytes} bytes, more than the memory budget "
                                        f"of {budget}", field="source")
            while over():
                idle = sorted((e for e in others() if e.state == READY and e.backend.active_requests == 0
                               and not e.pinned), key=lambda e: e.last_used)
                if not idle:
                    raise ResourceExhausted("pool is full and every loaded model is busy or pinned; unload one "
                                            "first", field="source")
                victim = idle[0]
                log.info("evicting least recently used model", model=victim.model_id)
                await self._remove(victim)

    async def unload(self, name: str) -> None:
        async with self._lock:
            entry = self._entry(name)
            if entry.task is not None and not entry.task.done():
                entry.task.cancel()
            await self._remove(entry)

    async def _remove(self, entry: _Entry) -> None:
        entry.state = UNLOADING
        await self._notify(entry)
        backend, entry.backend = entry.backend, None
        if backend is not None:
            await backend.close()  # in-flight requests end with a cancelled summary
        if self._entries.get(entry.model_id) is entry:
            del self._entries[entry.model_id]
        self._update_gauges()
        await self._notify(entry)

    async def _close_when_idle(self, backend: Backend, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while backend.active_requests and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await backend.close()

    async def close(self) -> None:
        for entry in list(self._entries.values()):
            if entry.task is not None and not entry.task.done():
                entry.task.cancel()
                with contextlib.suppress(BaseException):
                    await entry.task
            await self._remove(entry)

    async def _notify(self, entry: _Entry) -> None:
        async with entry.changed:
            entry.version += 1
            entry.changed.notify_all()

    def _update_gauges(self) -> None:
        for state in (LOADING, READY, FAILED, UNLOADING):
            metrics.MODELS_LOADED.labels(state).set(sum(e.state == state for e in self._entries.values()))

    # -- generation ----------------------------------------------------------------------------------

    def _serving(self, name: str) -> tuple[_Entry, tuple[Backend, str, str]]:
        entry = self._entry(name, field="model")
        serving = entry.serving()
        if serving is None:
            detail = f": {entry.error}" if entry.error else ""
            raise FailedPrecondition(f"models/{entry.model_id} is {entry.state}, not READY{detail}", field="model")
        entry.last_used = time.time()
        return entry, serving

    async def _serving_on_demand(self, name: str) -> tuple[_Entry, tuple[Backend, str, str]]:
        """Like `_serving`, but a vault reference (models/latest, models/assets/…) not loaded yet is loaded
        first, and a request for one that is loading waits for it instead of failing."""
        model_id = parse_model_name(name, "model")
        reference = parse_reference(model_id) if self._config.on_demand else None
        entry = self._entries.get(model_id)
        if reference is not None and (entry is None or entry.state == FAILED):
            spec = LoadSpec(source=reference.source(self.followed_campaign), model_id=model_id)
            try:
                await self.load(spec, follow=reference.kind == "alias")
            except Aborted:
                pass  # another request started this load a moment ago: wait for it below
            entry = self._entries.get(model_id)
        if reference is not None and entry is not None and entry.task is not None and not entry.task.done():
            await asyncio.shield(entry.task)
            if entry.failure is not None and entry.backend is None:
                if self._entries.get(model_id) is entry:  # a failed on-demand load leaves nothing behind
                    del self._entries[model_id]
                    self._update_gauges()
                raise type(entry.failure)(entry.failure.message, field="model")
        return self._serving(name)

    def render_chat(self, name: str, messages: list[dict[str, str]]) -> str:
        check_messages(messages, self._limits)
        entry, serving = self._serving(name)
        return serving[0].render_chat(apply_mantra(messages, entry.mantra))

    async def chat_prompt(self, name: str, messages: list[dict[str, str]]) -> str:
        """The rendered prompt for `messages`: size-checked first, then rendered off the event loop (a chat
        template over a big conversation is real work)."""
        check_messages(messages, self._limits)
        entry, (backend, _, _) = await self._serving_on_demand(name)
        # The same system-turn rule the worker trained with (services/kit/mantra.py), read with the backend.
        return await asyncio.to_thread(backend.render_chat, apply_mantra(messages, entry.mantra))

    async def tokenize(self, name: str, prompt: str, *, add_special_tokens: bool = True):
        check_prompt(prompt, self._limits)
        backend = (await self._serving_on_demand(name))[1][0]
        tokenize = getattr(backend, "tokenize", None)
        if tokenize is None:
            raise FailedPrecondition("this model has no local tokenizer", field="model")
        return await asyncio.to_thread(tokenize, prompt, add_special_tokens=add_special_tokens)

    async def generate_stream(self, name: str, prompt: str, params: SamplingParams, *, kind: str = "generate",
                              chat_template_applied: bool = False,
                              on_accepted: Accepted | None = None) -> AsyncIterator[GenerationEvent]:
        """Events of one generation (NotFound / FailedPrecondition on the first step when the model cannot
        serve); the summary says which model, asset and source answered. `on_accepted`: see Backend."""
        check_prompt(prompt, self._limits)
        with self.activity.track(params.background):
            entry, (backend, asset, source) = await self._serving_on_demand(name)
            events = backend.generate_stream(prompt, params, add_special_tokens=not chat_template_applied,
                                             on_accepted=on_accepted)
            async with contextlib.aclosing(self._counted(entry.model_id, kind, events)) as stream:
                async for event in stream:
                    if isinstance(event, Summary):
                        event = replace(event, model=f"models/{entry.model_id}", asset=asset, source=source)
                    yield event

    async def generate(self, name: str, prompt: str, params: SamplingParams, *, kind: str = "generate",
                       chat_template_applied: bool = False) -> Completion:
        return await collect(self.generate_stream(name, prompt, params, kind=kind,
                                                  chat_template_applied=chat_template_applied))

    async def _counted(self, model_id: str, kind: str,
                       events: AsyncIterator[GenerationEvent]) -> AsyncIterator[GenerationEvent]:
        outcome = "error"
        try:
            async with contextlib.aclosing(events) as stream:
                async for event in stream:
                    if isinstance(event, Summary):
                        outcome = event.finish_reason
                    yield event
        except (GeneratorExit, asyncio.CancelledError):
            outcome = "cancelled"
            raise
        except RealmError as error:
            outcome = error.code.lower()
            raise
        finally:
            metrics.REQUESTS.labels(model_id, kind, outcome).inc()
