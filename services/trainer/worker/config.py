"""The training config: one frozen dataclass, validated where it is built.

`build_training_config(hero_defaults, overrides)` merges a hero's training defaults with a campaign's
(or a quest's) overrides; every field is checked against its allowed range or choices, and an unknown key
is rejected by name. Errors are `InvalidArgument` naming the field, e.g. "learning_rate: must be in (0, 1], got 5".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from services.kit.errors import InvalidArgument

OPTIMIZERS = ("adamw", "adamw_8bit", "paged_adamw_8bit", "muon", "sgd")
SCHEDULES = ("cosine", "linear", "inverse_sqrt", "constant")
LR_SCOPES = ("quest", "campaign")
PRECISIONS = ("auto", "fp32", "bf16")
DISTRIBUTED = ("ddp", "fsdp")
ATTENTION = ("sdpa", "eager")


def _number(lo: float, hi: float, *, lo_open: bool = False, integer: bool = False) -> dict[str, Any]:
    return {"range": (lo, hi, lo_open), "integer": integer}


def _choice(*choices: str) -> dict[str, Any]:
    return {"choices": choices}


@dataclass(frozen=True)
class TrainingConfig:
    """Everything one quest's training run depends on. Defaults suit the tiny hero on CPU."""

    # Optimisation
    learning_rate: float = field(default=1e-3, metadata=_number(0, 1, lo_open=True))
    optimizer: str = field(default="adamw", metadata=_choice(*OPTIMIZERS))
    weight_decay: float = field(default=0.0, metadata=_number(0, 1))
    adam_beta1: float = field(default=0.9, metadata=_number(0, 0.999999))
    adam_beta2: float = field(default=0.999, metadata=_number(0, 0.999999))
    adam_epsilon: float = field(default=1e-8, metadata=_number(0, 1e-2, lo_open=True))
    # Muon updates 2-D hidden weights at its own (larger) rate; the rest uses AdamW at learning_rate.
    muon_learning_rate: float = field(default=0.02, metadata=_number(0, 1, lo_open=True))
    muon_momentum: float = field(default=0.95, metadata=_number(0, 0.999999))
    max_grad_norm: float = field(default=1.0, metadata=_number(0, 1e6))  # 0 disables clipping
    # quest: every quest starts with fresh optimizer moments; campaign: a quest that starts from a checkpoint
    # loads the optimizer state saved with it (Adam's moments go on across quests; not with LoRA).
    optimizer_scope: str = field(default="quest", metadata=_choice(*LR_SCOPES))
    # Schedule
    lr_schedule: str = field(default="cosine", metadata=_choice(*SCHEDULES))
    warmup_steps: int = field(default=0, metadata=_number(0, 1_000_000, integer=True))
    min_lr_ratio: float = field(default=0.1, metadata=_number(0, 1))
    # quest: the decay runs over each quest (every quest restarts at the peak); campaign: it runs over the hero's
    # global step, continued across quests, over `lr_decay_steps` (inverse_sqrt: its time scale). Warm-up stays
    # per quest in both (for the fresh optimizer moments of optimizer_scope: quest).
    lr_scope: str = field(default="quest", metadata=_choice(*LR_SCOPES))
    lr_decay_steps: int = field(default=0, metadata=_number(0, 100_000_000, integer=True))
    # Batch and length
    micro_batch_size: int = field(default=8, metadata=_number(1, 4096, integer=True))
    gradient_accumulation_steps: int = field(default=1, metadata=_number(1, 4096, integer=True))
    # > 0: every optimizer step holds exactly this many examples (one process), packed into rows as long as the
    # step's longest example, at most micro_batch_size rows per forward pass; 0: a step is micro_batch_size x
    # gradient_accumulation_steps packed rows, however many examples those hold.
    examples_per_step: int = field(default=0, metadata=_number(0, 1_000_000, integer=True))
    max_seq_len: int = field(default=512, metadata=_number(16, 1_048_576, integer=True))
    packing: bool = True
    shuffle: bool = True
    # Length of the run: max_steps > 0 wins over epochs.
    epochs: int = field(default=1, metadata=_number(1, 100_000, integer=True))
    max_steps: int = field(default=0, metadata=_number(0, 100_000_000, integer=True))
    # Precision and memory
    precision: str = field(default="auto", metadata=_choice(*PRECISIONS))
    gradient_checkpointing: bool = False
    use_liger_kernel: bool = False
    attn_implementation: str = field(default="sdpa", metadata=_choice(*ATTENTION))
    distributed: str = field(default="ddp", metadata=_choice(*DISTRIBUTED))
    # LoRA (PEFT)
    lora_enabled: bool = False
    lora_rank: int = field(default=8, metadata=_number(1, 4096, integer=True))
    lora_alpha: int = field(default=16, metadata=_number(1, 65536, integer=True))
    lora_dropout: float = field(default=0.0, metadata=_number(0, 0.9))
    lora_target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    lora_quantize_base_4bit: bool = False
    # Checkpoints, logging, determinism
    checkpoint_every_steps: int = field(default=0, metadata=_number(0, 100_000_000, integer=True))
    # Also (or instead) every this many seconds of training: a cadence that follows wall time, so trials see a
    # steady stream of checkpoints however fast the steps are (0 = off). Resume stays exact from any checkpoint.
    checkpoint_every_seconds: float = field(default=0.0, metadata=_number(0, 86_400 * 30))
    log_every_steps: int = field(default=1, metadata=_number(1, 1_000_000, integer=True))
    seed: int = field(default=0, metadata=_number(0, 2**31 - 1, integer=True))
    # Masking checks (share of trained tokens over all tokens of the quest)
    min_mask_ratio: float = field(default=0.01, metadata=_number(0, 1))
    max_mask_ratio: float = field(default=0.95, metadata=_number(0, 1))

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            _check_field(spec, getattr(self, spec.name))
        if self.min_mask_ratio > self.max_mask_ratio:
            raise InvalidArgument(
                f"must be <= max_mask_ratio ({self.max_mask_ratio}), got {self.min_mask_ratio}", field="min_mask_ratio"
            )
        decays_over_given_steps = self.lr_scope == "campaign" or self.lr_schedule == "inverse_sqrt"
        if decays_over_given_steps and self.lr_schedule != "constant" and not self.lr_decay_steps:
            raise InvalidArgument(
                f"must be > 0 for lr_schedule {self.lr_schedule} with lr_scope {self.lr_scope}", field="lr_decay_steps"
            )
        if self.examples_per_step and self.gradient_accumulation_steps > 1:
            raise InvalidArgument(
                "examples_per_step sizes the whole step; leave gradient_accumulation_steps at 1 "
                "(micro_batch_size bounds the rows per forward pass)", field="examples_per_step",
            )
        if not self.lora_target_modules and self.lora_enabled:
            raise InvalidArgument("must name at least one module when LoRA is enabled", field="lora_target_modules")
        if self.lora_quantize_base_4bit and not self.lora_enabled:
            raise InvalidArgument("QLoRA needs lora_enabled: true", field="lora_quantize_base_4bit")

    @property
    def sequences_per_step(self) -> int:
        """Packed sequences per optimizer step on one process."""
        return self.micro_batch_size * self.gradient_accumulation_steps

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["lora_target_modules"] = list(self.lora_target_modules)
        return data


def _check_field(spec: dataclasses.Field, value: Any) -> None:
    name = spec.name
    if spec.type in ("bool", bool):
        if not isinstance(value, bool):
            raise InvalidArgument(f"must be true or false, got {value!r}", field=name)
        return
    if name == "lora_target_modules":
        if not isinstance(value, tuple) or not all(isinstance(m, str) and m for m in value):
            raise InvalidArgument(f"must be a list of module names, got {value!r}", field=name)
        return
    meta = spec.metadata
    if "choices" in meta:
        if value not in meta["choices"]:
            raise InvalidArgument(f"must be one of {', '.join(meta['choices'])}; got {value!r}", field=name)
        return
    lo, hi, lo_open = meta["range"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"must be a number, got {value!r}", field=name)
    if meta["integer"] and not isinstance(value, int):
        raise InvalidArgument(f"must be an integer, got {value!r}", field=name)
    if not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
        bracket = "(" if lo_open else "["
        raise InvalidArgument(f"must be in {bracket}{lo:g}, {hi:g}], got {value!r}", field=name)


_FIELD_NAMES = {f.name for f in dataclasses.fields(TrainingConfig)}
# A hero YAML's `lora:` block (LoraSettings in the proto) maps onto the lora_* fields.
_LORA_KEYS = {
    "enabled": "lora_enabled",
    "rank": "lora_rank",
    "alpha": "lora_alpha",
    "dropout": "lora_dropout",
    "target_modules": "lora_target_modules",
    "quantize_base_4bit": "lora_quantize_base_4bit",
}


def _flatten(source: dict[str, Any], origin: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in (source or {}).items():
        if key == "lora" and isinstance(value, dict):
            for lora_key, lora_value in value.items():
                if lora_key not in _LORA_KEYS:
                    raise InvalidArgument(
                        f"unknown LoRA setting {lora_key!r} in {origin} (known: {', '.join(_LORA_KEYS)})",
                        field=f"lora.{lora_key}",
                    )
                flat[_LORA_KEYS[lora_key]] = lora_value
        elif key not in _FIELD_NAMES:
            raise InvalidArgument(f"unknown training setting in {origin}", field=key)
        else:
            flat[key] = value
    return flat


def _coerce(name: str, value: Any) -> Any:
    spec = TrainingConfig.__dataclass_fields__[name]
    if name == "lora_target_modules" and isinstance(value, list | tuple):
        return tuple(value)
    # YAML/JSON/protobuf Struct give floats for integers ("8.0"); accept whole numbers only.
    if spec.metadata.get("integer") and isinstance(value, float) and value.is_integer():
        return int(value)
    if spec.metadata.get("range") and not spec.metadata.get("integer") and isinstance(value, int):
        return value if isinstance(value, bool) else float(value)
    return value


def build_training_config(hero_defaults: dict[str, Any] | None, overrides: dict[str, Any] | None) -> TrainingConfig:
    """Merge hero defaults with overrides (overrides win) into one validated, frozen config."""
    merged = _flatten(hero_defaults or {}, "hero defaults")
    merged.update(_flatten(overrides or {}, "overrides"))
    return TrainingConfig(**{name: _coerce(name, value) for name, value in merged.items()})


def config_from_dict(data: dict[str, Any]) -> TrainingConfig:
    """Rebuild a config written by `TrainingConfig.to_dict` (job files, checkpoints)."""
    return build_training_config({}, data)


_HASHED_WHEN_SET = ("checkpoint_every_seconds", "lr_scope", "lr_decay_steps", "examples_per_step", "optimizer_scope")
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainingConfig)}


def config_hash(cfg: TrainingConfig) -> str:
    """sha256 of the canonical JSON of every field: equal configs hash equally across processes."""
    data = cfg.to_dict()
    for name in _HASHED_WHEN_SET:  # fields added later: configs that leave them unset keep their old hash
        if data[name] == _DEFAULTS[name]:
            del data[name]
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
