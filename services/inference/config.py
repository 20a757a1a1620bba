"""The `inference:` section of realm.yaml, validated where it is built; every key is read here and nowhere else.

    inference:
      device: cpu                 # cuda / cuda:0 on the inference host
      dtype: float32              # float32 | bfloat16 | float16
      max_models: 2               # pool size (the pinned default counts)
      memory_budget_mb: 0         # 0 = no budget
      max_batch_size: 16
      max_queue: 64               # RESOURCE_EXHAUSTED beyond this
      stream_interval_ms: 10      # streamed tokens reach the event loop at most this often (0 = every step)
      limits: {default_max_new_tokens: 128, max_new_tokens: 2048, max_prompt_tokens: 4096,
               max_prompt_bytes: 262144, max_chat_messages: 1024}
      default_model:              # optional; or just a source string
        id: default
        source: latest            # an alias (latest, best/bin, campaigns/c/aliases/x), assets/…, a directory, a URL
        campaign: ""              # campaign of short alias names; "" = the one whose `latest` moved last
        fallback: var/heroes/tiny # served while the alias does not exist yet (e.g. before the first checkpoint)
      follow_retry_seconds: 5     # reconnect delay of the vault ledger follower
      on_demand: true             # alias / asset model ids (models/latest, models/assets/…) load when first asked
      cache_dir: var/inference/cache   # default: <data_dir>/inference/cache
      adapter_base_dir: ""
      tgi_timeout_seconds: 60
      tgi_tokenizers: {}          # {"http://tgi:8080": /models/hero-tokenizer}
      background:                 # idle-GPU tasks (task_board.py, priority.py); registry in <data_dir>/inference/tasks.db
        max_rows: 8               # background rows in one batch at most
        max_interactive_delay_seconds: 2.0   # the bound: background work never holds an interactive request longer
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.inference.engine import EngineConfig
from services.inference.params import GenerationLimits
from services.inference.pool import PoolConfig
from services.inference.priority import BackgroundPolicy
from services.inference.references import is_model_reference
from services.inference.transformers_backend import DTYPES
from services.kit.config import ConfigError, Settings
from services.kit.errors import InvalidArgument

KNOWN_KEYS = frozenset({
    "device", "dtype", "max_models", "memory_budget_mb", "max_batch_size", "max_queue", "limits", "default_model",
    "follow_retry_seconds", "on_demand", "stream_interval_ms", "cache_dir", "adapter_base_dir", "tgi_timeout_seconds", "tgi_tokenizers",
    "background",
})
BACKGROUND_KEYS = frozenset({"max_rows", "max_interactive_delay_seconds"})
DEFAULT_MODEL_KEYS = frozenset({"source", "id", "backend", "campaign", "fallback"})


@dataclass(frozen=True)
class DefaultModel:
    source: str
    model_id: str = ""
    backend: str = ""
    # Campaign in which a short alias name (latest, best/bin) is resolved; "" = the one whose `latest` moved last.
    campaign: str = ""
    # Loaded while `source` (an alias) does not resolve yet.
    fallback: str = ""


@dataclass(frozen=True)
class InferenceConfig:
    device: str = "cpu"
    dtype: str = "float32"
    pool: PoolConfig = field(default_factory=PoolConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    limits: GenerationLimits = field(default_factory=GenerationLimits)
    cache_dir: Path = Path("var/inference/cache")
    adapter_base_dir: str = ""
    tgi_timeout_seconds: int = 60
    # A local tokenizer directory per TGI URL, so chat can render the served checkpoint's own template.
    tgi_tokenizers: dict[str, str] = field(default_factory=dict)
    default_model: DefaultModel | None = None
    follow_retry_seconds: float = 5.0
    on_demand: bool = True
    # Idle-task work: background rows per batch and the bound interactive requests keep (priority.py).
    background: BackgroundPolicy = field(default_factory=BackgroundPolicy)
    tasks_db: Path = Path("var/inference/tasks.db")

    @classmethod
    def from_settings(cls, settings: Settings) -> InferenceConfig:
        return cls.from_section(settings.section("inference"), data_dir=settings.data_dir, root=settings.root)

    @classmethod
    def from_section(cls, section: Mapping[str, Any], *, data_dir: Path, root: Path) -> InferenceConfig:
        if not isinstance(section, Mapping):
            raise ConfigError("inference", "must be a mapping")
        unknown = sorted(set(section) - KNOWN_KEYS)
        if unknown:
            raise ConfigError(f"inference.{unknown[0]}", f"unknown key; known keys are {sorted(KNOWN_KEYS)}")
        dtype = _string(section, "dtype", "float32")
        if dtype not in DTYPES:
            raise ConfigError("inference.dtype", f"must be one of {sorted(DTYPES)}")
        raw_limits = section.get("limits", {}) if section.get("limits") is not None else {}
        if not isinstance(raw_limits, Mapping):
            raise ConfigError("inference.limits", "must be a mapping")
        try:
            limits = GenerationLimits.from_section(dict(raw_limits))
        except InvalidArgument as error:
            raise ConfigError(error.field or "inference.limits", error.message) from None
        tokenizers = section.get("tgi_tokenizers", {}) if section.get("tgi_tokenizers") is not None else {}
        if not isinstance(tokenizers, Mapping):
            raise ConfigError("inference.tgi_tokenizers", "must be a mapping of TGI URL -> tokenizer directory")
        retry = section.get("follow_retry_seconds", 5.0)
        if isinstance(retry, bool) or not isinstance(retry, int | float) or retry <= 0:
            raise ConfigError("inference.follow_retry_seconds", f"must be a positive number, got {retry!r}")
        on_demand = section.get("on_demand", True)
        if not isinstance(on_demand, bool):
            raise ConfigError("inference.on_demand", f"must be true or false, got {on_demand!r}")
        adapter_base_dir = _string(section, "adapter_base_dir", "")
        return cls(
            device=_string(section, "device", "cpu"),
            dtype=dtype,
            pool=PoolConfig(max_models=_integer(section, "max_models", 2),
                            memory_budget_bytes=_integer(section, "memory_budget_mb", 0, allow_zero=True) * 1024 * 1024),
            engine=EngineConfig(max_batch_size=_integer(section, "max_batch_size", 16),
                                max_queue=_integer(section, "max_queue", 64),
                                stream_interval_seconds=_integer(section, "stream_interval_ms", 10,
                                                                 allow_zero=True) / 1000),
            limits=limits,
            cache_dir=_path(_string(section, "cache_dir", "") or data_dir / "inference" / "cache", root),
            adapter_base_dir=str(_path(adapter_base_dir, root)) if adapter_base_dir else "",
            tgi_timeout_seconds=_integer(section, "tgi_timeout_seconds", 60),
            tgi_tokenizers={str(url): str(_path(str(path), root)) for url, path in tokenizers.items()},
            default_model=_default_model(section.get("default_model"), root),
            follow_retry_seconds=float(retry),
            on_demand=on_demand,
            background=_background(section.get("background")),
            tasks_db=data_dir / "inference" / "tasks.db",
        )


def _default_model(raw: Any, root: Path) -> DefaultModel | None:
    key = "inference.default_model"
    if not raw:
        return None
    if isinstance(raw, str):
        raw = {"source": raw}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("source"), str) or not raw["source"].strip():
        raise ConfigError(key, "must be a source string or {source, id, backend, campaign, fallback}")
    unknown = sorted(set(raw) - DEFAULT_MODEL_KEYS)
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", f"unknown key; known keys are {sorted(DEFAULT_MODEL_KEYS)}")
    for name in ("id", "backend", "campaign", "fallback"):
        if not isinstance(raw.get(name, ""), str):
            raise ConfigError(f"{key}.{name}", "must be a string")
    fallback = raw.get("fallback", "")
    return DefaultModel(source=_local_or_remote(raw["source"].strip(), root), model_id=raw.get("id", ""),
                        backend=raw.get("backend", ""), campaign=raw.get("campaign", "").removeprefix("campaigns/"),
                        fallback=_local_or_remote(fallback, root) if fallback else "")


def _background(raw: Any) -> BackgroundPolicy:
    """`inference.background: {max_rows: 8, max_interactive_delay_seconds: 2.0}`."""
    if raw is None:
        return BackgroundPolicy()
    if not isinstance(raw, Mapping):
        raise ConfigError("inference.background", "must be a mapping of max_rows, max_interactive_delay_seconds")
    unknown = sorted(set(raw) - BACKGROUND_KEYS)
    if unknown:
        raise ConfigError(f"inference.background.{unknown[0]}", f"unknown key; known keys are {sorted(BACKGROUND_KEYS)}")
    rows = raw.get("max_rows", BackgroundPolicy.max_rows)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise ConfigError("inference.background.max_rows", f"must be a non-negative integer, got {rows!r}")
    bound = raw.get("max_interactive_delay_seconds", BackgroundPolicy.max_interactive_delay_seconds)
    if isinstance(bound, bool) or not isinstance(bound, int | float) or bound <= 0:
        raise ConfigError("inference.background.max_interactive_delay_seconds",
                          f"must be a positive number of seconds, got {bound!r}")
    return BackgroundPolicy(max_rows=rows, max_interactive_delay_seconds=float(bound))


def _local_or_remote(source: str, root: Path) -> str:
    """Vault names, aliases and URLs stay as they are; a relative directory resolves under the realm.yaml
    directory, like every other path in the file."""
    if is_model_reference(source) or source.startswith(("http://", "https://")):
        return source
    return str(_path(source, root))


def _path(value: str | Path, root: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path


def _string(section: Mapping[str, Any], key: str, default: str) -> str:
    value = section.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str | Path):
        raise ConfigError(f"inference.{key}", f"must be a string, got {value!r}")
    return str(value)


def _integer(section: Mapping[str, Any], key: str, default: int, *, allow_zero: bool = False) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise ConfigError(f"inference.{key}", f"must be a {kind} integer, got {value!r}")
    return value
