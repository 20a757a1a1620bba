"""Builders for the recipe's model: load the hero (full fine-tuning, LoRA or QLoRA), shard it under FSDP, and the
state dicts a checkpoint needs (full weights under FSDP, the LoRA-merged weights, optimizer states)."""

from __future__ import annotations

import inspect
import random
from pathlib import Path
from typing import Any

import torch

from services.trainer.worker import checkpoints as ckpt
from services.trainer.worker.config import TrainingConfig
from services.trainer.worker.packing import IGNORE_INDEX


def build_model(cfg: TrainingConfig, model_dir: Path, device: torch.device, *, use_bf16: bool,
                resume_from: Path | None) -> torch.nn.Module:
    """The model to train, on `device`, in train mode; resumed from `resume_from` when given."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    if cfg.use_liger_kernel:
        from liger_kernel.transformers import _apply_liger_kernel
        from transformers import AutoConfig

        # Fused RMSNorm / RoPE / SwiGLU kernels for the hero's architecture; the loss stays ours.
        model_type = AutoConfig.from_pretrained(model_dir).model_type
        _apply_liger_kernel(model_type=model_type, cross_entropy=False, fused_linear_cross_entropy=False)
    # Full fine-tuning resumes from the checkpoint's own weights; LoRA keeps the base and reloads the adapter.
    source = resume_from if (resume_from is not None and not cfg.lora_enabled) else model_dir
    # Full fine-tuning keeps fp32 master weights (bf16 is autocast); a frozen LoRA base can live in bf16 on a GPU
    # (on a CPU it stays fp32: there memory is not what bf16 is for, and the merged checkpoint keeps the exact base).
    base_dtype = torch.bfloat16 if (cfg.lora_enabled and use_bf16 and device.type == "cuda") else torch.float32
    attention = cfg.attn_implementation
    if use_bf16 and device.type == "cpu" and attention == "sdpa":
        attention = _fp32_sdpa_attention()
    load_kwargs: dict[str, Any] = {"dtype": base_dtype, "attn_implementation": attention}
    if cfg.lora_quantize_base_4bit:
        from transformers import BitsAndBytesConfig

        load_kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
        load_kwargs["device_map"] = {"": device}
    model = AutoModelForCausalLM.from_pretrained(source, **load_kwargs)
    if not cfg.lora_quantize_base_4bit:
        model.to(device)
    model.config.use_cache = False
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if cfg.lora_enabled:
        model = _with_lora(model, cfg, resume_from)
    model.train()
    return model


def native_bf16(device: torch.device) -> bool:
    """Whether `device` runs bf16 matmuls natively: a CUDA GPU with bf16, or a CPU with AVX512-BF16 or AMX (where
    they run ~4x faster than fp32 ones; elsewhere a CPU emulates them, slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


FP32_SDPA = "sdpa_fp32_under_cpu_autocast"


def _fp32_sdpa_attention() -> str:
    """SDPA run in fp32 inside bf16 autocast on a CPU: there the flash-attention kernel's bf16 backward is ~4x slower
    than its fp32 one (torch 2.13), which ate most of what the bf16 matmuls win. Registered once; returns its name."""
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    def attention(module, query, key, value, attention_mask, **kwargs):
        with torch.autocast("cpu", enabled=False):
            output, weights = sdpa_attention_forward(module, query.float(), key.float(), value.float(),
                                                     attention_mask, **kwargs)
        return output.to(query.dtype), weights

    if FP32_SDPA not in AttentionInterface._global_mapping:
        AttentionInterface.register(FP32_SDPA, attention)
    return FP32_SDPA


def _with_lora(model: torch.nn.Module, cfg: TrainingConfig, resume_from: Path | None) -> torch.nn.Module:
    from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training

    if cfg.lora_quantize_base_4bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    if cfg.gradient_checkpointing:
        model.enable_input_require_grads()
    if resume_from is not None:
        return PeftModel.from_pretrained(model, resume_from / ckpt.STATE_DIR / "adapter", is_trainable=True)
    return get_peft_model(model, LoraConfig(
        r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.lora_target_modules), task_type="CAUSAL_LM",
    ))


def shard_model(model: torch.nn.Module, device: torch.device, world_size: int) -> None:
    """FSDP2: shard every decoder layer, then the root (embeddings, norm, tied head)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(device.type, (world_size,))
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)


def optimizer_states(model: torch.nn.Module, optimizers: list, *, fsdp: bool) -> list[dict[str, Any]]:
    """Optimizer state to save; under FSDP gathered into full tensors (a collective: every rank calls)."""
    if not fsdp:
        return [o.state_dict() for o in optimizers]
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return [get_optimizer_state_dict(model, o, options=options) for o in optimizers]


def load_optimizer_states(model: torch.nn.Module, optimizers: list, saved: list[dict[str, Any]], *,
                          fsdp: bool) -> None:
    if not fsdp:
        for optimizer, state in zip(optimizers, saved, strict=True):
            optimizer.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True)
    for optimizer, state in zip(optimizers, saved, strict=True):
        set_optimizer_state_dict(model, optimizer, optim_state_dict=state, options=options)


def full_model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The full (unsharded) weights of an FSDP model on CPU, tied weights stored once like save_pretrained."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if getattr(model.config, "tie_word_embeddings", False):
        for key in getattr(model, "_tied_weights_keys", None) or []:
            state.pop(key, None)
    return state


def merged_lora_state_dict(peft_model) -> dict[str, torch.Tensor]:
    """The base model's state dict with every LoRA delta folded in, without touching the live weights
    (merge/unmerge in place would drift the frozen base by rounding)."""
    from peft.tuners.lora import LoraLayer

    merged: dict[str, torch.Tensor] = {}
    base = peft_model.get_base_model()
    deltas = {}
    for name, module in base.named_modules():
        if isinstance(module, LoraLayer):
            delta = sum(module.get_delta_weight(a) for a in module.active_adapters if a in module.lora_A)
            deltas[f"{name}.base_layer.weight"] = (f"{name}.weight", delta)
    for key, value in base.state_dict().items():
        if "lora_" in key:
            continue
        if key in deltas:
            new_key, delta = deltas[key]
            merged[new_key] = (value + delta.to(value.dtype)).detach().cpu().contiguous()
        else:
            merged[key.replace(".base_layer.", ".")] = value.detach().cpu().contiguous()
    return merged


def accepts_logits_to_keep(model) -> bool:
    """Whether the (unwrapped) causal LM's forward can compute logits at chosen positions only."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(type(base).forward).parameters


def trained_positions(targets: torch.Tensor) -> torch.Tensor:
    """Sequence positions (1-D, ascending) where some row of the micro-batch has a target. Logits and the loss are
    needed only there: the LM head and the cross-entropy over the vocabulary skip every system, user and padding
    position that no row trains. Never empty (position 0 stands in), so the step's graph always exists."""
    positions = (targets != IGNORE_INDEX).any(dim=0).nonzero().flatten()
    return positions if positions.numel() else torch.zeros(1, dtype=torch.long)


def carry_optimizer_moments(model: torch.nn.Module, optimizers: list, start: Path, cfg: TrainingConfig, *,
                            fsdp: bool, device: torch.device) -> str:
    """Load the optimizer state saved beside `start` (the checkpoint this quest starts from) into this quest's
    fresh optimizers, keeping this quest's hyper-parameters (lr, betas, weight decay): Adam's moments go on from
    the previous quest instead of restarting from zero. Returns "" when carried, else why they start fresh."""
    state_file = start / ckpt.STATE_DIR / "optimizer.pt"
    if cfg.lora_enabled:
        return "LoRA trains a fresh adapter every quest"
    if not state_file.is_file() or not (start / ckpt.STATE_DIR / ckpt.STATE_FILE).is_file():
        return f"no optimizer state beside {start.name}"
    previous = ckpt.read_state(start)
    before = previous.get("config", {})
    if before.get("optimizer") != cfg.optimizer or before.get("lora_enabled"):
        return f"the previous quest trained with {before.get('optimizer')}, this one with {cfg.optimizer}"
    if previous.get("distributed", "ddp") != ("fsdp" if fsdp else "ddp"):
        return f"the previous quest ran under {previous.get('distributed')}"
    saved = torch.load(state_file, map_location=device, weights_only=False)
    if not fsdp:  # checked before any optimizer changes: a half-loaded set would mix old and new state
        shapes = [[len(g["params"]) for g in o.param_groups] for o in optimizers]
        if [[len(g["params"]) for g in s["param_groups"]] for s in saved] != shapes:
            return "the saved optimizer state does not fit this model's parameters"
    hyper = [[{k: v for k, v in g.items() if k != "params"} for g in o.param_groups] for o in optimizers]
    load_optimizer_states(model, optimizers, saved, fsdp=fsdp)
    for optimizer, groups in zip(optimizers, hyper, strict=True):
        for group, values in zip(optimizer.param_groups, groups, strict=True):
            group.update(values)
    return ""
