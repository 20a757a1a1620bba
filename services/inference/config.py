"""The `inference:` section of realm.yaml, validated where it is built."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from services.inference.engine import EngineConfig
from services.inference.params import GenerationLimits
from services.inference.pool import PoolConfig
from services.inference.transformers_backend import DTYPES
from services.kit.config import ConfigError, Settings


@dataclass(frozen=True)
class DefaultModel:
    source: str
    model_id: str = ""
    backend: str = ""


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

    @classmethod
    def from_settings(cls, settings: Settings) -> InferenceConfig:
        section = settings.section("inference")

        def positive(key: str, default: int, *, allow_zero: bool = False) -> int:
            value = section.get(key, default)
            if not isinstance(value, int) or value < 0 or (value == 0 and not allow_zero):
                raise ConfigError(f"inference.{key}", f"must be a {'non-negative' if allow_zero else 'positive'} "
                                                      "integer")
            return value

        dtype = section.get("dtype", "float32")
        if dtype not in DTYPES:
            raise ConfigError("inference.dtype", f"must be one of {sorted(DTYPES)}")
        default_model = None
        raw_default = section.get("default_model")
        if raw_default:
            if isinstance(raw_default, str):
                raw_default = {"source": raw_default}
            if not isinstance(raw_default, dict) or not raw_default.get("source"):
                raise ConfigError("inference.default_model", "must be a source string or {source, id, backend}")
            default_model = DefaultModel(source=str(raw_default["source"]), model_id=str(raw_default.get("id", "")),
                                         backend=str(raw_default.get("backend", "")))
        try:
            limits = GenerationLimits.from_section(section.get("limits") or {})
        except Exception as error:
            raise ConfigError("inference.limits", str(error)) from None
        cache_dir = Path(section.get("cache_dir") or settings.data_dir / "inference" / "cache")
        if not cache_dir.is_absolute():
            cache_dir = settings.root / cache_dir
        return cls(
            device=str(section.get("device", "cpu")),
            dtype=dtype,
            pool=PoolConfig(max_models=positive("max_models", 2),
                            memory_budget_bytes=positive("memory_budget_mb", 0, allow_zero=True) * 1024 * 1024),
            engine=EngineConfig(max_batch_size=positive("max_batch_size", 16), max_queue=positive("max_queue", 64)),
            limits=limits,
            cache_dir=cache_dir,
            adapter_base_dir=str(section.get("adapter_base_dir", "")),
            tgi_timeout_seconds=positive("tgi_timeout_seconds", 60),
            tgi_tokenizers={str(k): str(v) for k, v in (section.get("tgi_tokenizers") or {}).items()},
            default_model=default_model,
        )
