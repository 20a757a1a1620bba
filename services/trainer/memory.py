"""Training memory estimate (the Tavern's VRAM calculator), by what the worker actually holds.

Notation: P parameters, T trainable parameters, B micro-batch size, S sequence length, L layers, h hidden size,
I MLP intermediate size, q = heads x head_dim, kv = kv_heads x head_dim, V vocabulary, a = bytes per
activation element (2 for bf16/fp16 autocast, 4 for fp32).

  weights      full fine-tuning: 4 P (fp32 master weights; bf16 is autocast, as in the worker).
               LoRA: P x bytes(precision) for the frozen base (fp32 4, bf16/fp16 2, int8 1, nf4 0.5 + 1/32
               for block scales) + 4 T for the adapter.
  gradients    4 T (fp32).
  optimizer    adamw 8 T (two fp32 moments); adamw_8bit / paged_adamw_8bit 2 T; sgd 4 T (momentum);
               muon 4 T_matrix + 8 T_other (Muon keeps one momentum for hidden matrices, AdamW the rest).
  activations  per token and layer, what autograd saves (sdpa memory-efficient kernel, no S x S scores):
               (6 h + 2 (q + 2 kv) + 4 I) x a; times B S L. With gradient checkpointing only each layer's
               input is kept (h a per token and layer) plus the layer recomputed at a time and its
               gradients (2 per-layer sets).
               Plus the logits and the loss: B S V (a + 8) (logits, their fp32 copy and its gradient), and
               the packed block mask: 4 B S^2. With `attention="math"` (CPU, or eager attention: the
               kernels that take an arbitrary mask without a fused path) the attention probabilities are
               saved too: B x heads x S^2 x a per layer.
  overhead     10 % of the rest for allocator fragmentation and temporaries (a CUDA context adds ~0.5 GiB
               per process on top, not counted).

Checked on CPU against the measured peak RSS growth of a training step (tests/unit/trainer_worker/
test_memory.py); the GPU check (torch.cuda.max_memory_allocated) needs a lent GPU.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from services.kit.errors import InvalidArgument

WEIGHT_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "int8": 1.0, "nf4": 0.5 + 1 / 32}
ACTIVATION_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 2, "nf4": 2}
OPTIMIZER_BYTES = {"adamw": 8, "adamw_8bit": 2, "paged_adamw_8bit": 2, "sgd": 4, "muon": 4}
GIB = 1024**3


@dataclass(frozen=True)
class ModelShape:
    hidden_size: int
    num_layers: int
    vocab_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    tie_word_embeddings: bool = True
    parameter_count: int = 0  # 0 = computed from the shape

    def __post_init__(self) -> None:
        for name in ("hidden_size", "num_layers", "vocab_size", "num_attention_heads", "num_key_value_heads",
                     "head_dim", "intermediate_size"):
            if getattr(self, name) <= 0:
                raise InvalidArgument(f"must be > 0, got {getattr(self, name)}", field=name)

    @classmethod
    def from_hf_config(cls, config: dict) -> ModelShape:
        heads = config.get("num_attention_heads", 0)
        return cls(
            hidden_size=config.get("hidden_size", 0),
            num_layers=config.get("num_hidden_layers", 0),
            vocab_size=config.get("vocab_size", 0),
            num_attention_heads=heads,
            num_key_value_heads=config.get("num_key_value_heads") or heads,
            head_dim=config.get("head_dim") or (config.get("hidden_size", 0) // max(heads, 1)),
            intermediate_size=config.get("intermediate_size", 0),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        )

    @classmethod
    def from_model_dir(cls, model_dir: Path) -> ModelShape:
        path = Path(model_dir) / "config.json"
        try:
            return cls.from_hf_config(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidArgument(f"cannot read {path}: {exc}", field="model_dir") from None

    @property
    def q_dim(self) -> int:
        return self.num_attention_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_key_value_heads * self.head_dim

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each linear layer of one decoder layer (Qwen/Llama naming)."""
        h, i = self.hidden_size, self.intermediate_size
        return {"q_proj": (h, self.q_dim), "k_proj": (h, self.kv_dim), "v_proj": (h, self.kv_dim),
                "o_proj": (self.q_dim, h), "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    @property
    def embedding_parameters(self) -> int:
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    @property
    def matrix_parameters(self) -> int:
        return self.num_layers * sum(a * b for a, b in self.linear_shapes().values())

    @property
    def parameters(self) -> int:
        if self.parameter_count:
            return self.parameter_count
        norms = self.num_layers * (2 * self.hidden_size + 2 * self.head_dim) + self.hidden_size
        return self.embedding_parameters + self.matrix_parameters + norms


@dataclass(frozen=True)
class LoraShape:
    rank: int
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class MemoryComponent:
    name: str
    bytes: int
    formula: str


@dataclass(frozen=True)
class MemoryEstimate:
    components: tuple[MemoryComponent, ...]
    trainable_parameters: int

    @property
    def total_bytes(self) -> int:
        return sum(c.bytes for c in self.components)

    @property
    def total_gib(self) -> float:
        return self.total_bytes / GIB

    def component(self, name: str) -> MemoryComponent:
        return next(c for c in self.components if c.name == name)


def lora_parameters(shape: ModelShape, lora: LoraShape) -> int:
    linears = shape.linear_shapes()
    unknown = [m for m in lora.target_modules if m not in linears]
    if unknown:
        raise InvalidArgument(f"unknown module {unknown[0]!r} (known: {', '.join(linears)})", field="lora.target_modules")
    return shape.num_layers * sum(lora.rank * (linears[m][0] + linears[m][1]) for m in lora.target_modules)


def estimate_memory(
    shape: ModelShape,
    *,
    precision: str = "bf16",
    optimizer: str = "adamw",
    lora: LoraShape | None = None,
    micro_batch_size: int = 1,
    sequence_length: int = 2048,
    gradient_checkpointing: bool = False,
    attention: str = "memory_efficient",
) -> MemoryEstimate:
    if precision not in WEIGHT_BYTES:
        raise InvalidArgument(f"must be one of {', '.join(WEIGHT_BYTES)}", field="precision")
    if optimizer not in OPTIMIZER_BYTES:
        raise InvalidArgument(f"must be one of {', '.join(OPTIMIZER_BYTES)}", field="optimizer")
    if precision in ("int8", "nf4") and lora is None:
        raise InvalidArgument("quantized base weights (int8/nf4) only train with LoRA", field="precision")
    if attention not in ("memory_efficient", "math"):
        raise InvalidArgument("must be memory_efficient or math", field="attention")
    if micro_batch_size <= 0:
        raise InvalidArgument("must be > 0", field="micro_batch_size")
    if sequence_length <= 0:
        raise InvalidArgument("must be > 0", field="sequence_length")

    p = shape.parameters
    if lora is None:
        trainable = p
        weights = MemoryComponent("weights", 4 * p, f"4 B x {p:,} parameters (fp32 master weights)")
    else:
        trainable = lora_parameters(shape, lora)
        per = WEIGHT_BYTES[precision]
        weights = MemoryComponent(
            "weights", int(per * p + 4 * trainable),
            f"{per:g} B x {p:,} frozen base ({precision}) + 4 B x {trainable:,} LoRA parameters",
        )
    gradients = MemoryComponent("gradients", 4 * trainable, f"4 B x {trainable:,} trainable parameters")
    if optimizer == "muon":
        matrices = trainable if lora is not None else shape.matrix_parameters
        others = trainable - matrices
        optimizer_part = MemoryComponent(
            "optimizer", 4 * matrices + 8 * others,
            f"Muon 4 B x {matrices:,} hidden matrices + AdamW 8 B x {others:,} others",
        )
    else:
        per = OPTIMIZER_BYTES[optimizer]
        optimizer_part = MemoryComponent("optimizer", per * trainable, f"{optimizer} {per} B x {trainable:,} trainable")

    a = ACTIVATION_BYTES[precision]
    tokens = micro_batch_size * sequence_length
    h, layers = shape.hidden_size, shape.num_layers
    per_layer = 6 * h + 2 * (shape.q_dim + 2 * shape.kv_dim) + 4 * shape.intermediate_size
    if gradient_checkpointing:
        # The layer being recomputed holds its saved tensors and, while its backward runs, gradients of the same
        # shapes: two layers' worth on top of the kept inputs.
        layer_bytes = tokens * (layers * h + 2 * per_layer) * a
        layer_formula = f"B S (L h + two layers {per_layer}) x {a} B"
    else:
        layer_bytes = tokens * layers * per_layer * a
        layer_formula = f"B S L x {per_layer} elements x {a} B"
    if attention == "math":
        # The attention probabilities (B, heads, S, S) are saved for backward in every (recomputed) layer.
        scores = micro_batch_size * shape.num_attention_heads * sequence_length**2 * a
        layer_bytes += scores * (1 if gradient_checkpointing else layers)
        layer_formula += f" + attention probabilities B heads S^2 x {a} B per layer"
    logits_bytes = tokens * shape.vocab_size * (a + 8)
    mask_bytes = 4 * micro_batch_size * sequence_length**2
    activations = MemoryComponent(
        "activations", layer_bytes + logits_bytes + mask_bytes,
        f"{layer_formula} + logits B S V ({a}+8) B + block mask 4 B S^2 (B={micro_batch_size}, S={sequence_length})",
    )
    subtotal = weights.bytes + gradients.bytes + optimizer_part.bytes + activations.bytes
    overhead = MemoryComponent("overhead", subtotal // 10, "10 % of the above (allocator, temporaries)")
    return MemoryEstimate(
        components=(weights, gradients, optimizer_part, activations, overhead), trainable_parameters=trainable
    )
