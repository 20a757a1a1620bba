"""Small builders: optimizers (AdamW, Muon + AdamW, SGD, bitsandbytes 8-bit on CUDA) and the LR schedule."""

from __future__ import annotations

import math

import torch

from services.kit.errors import FailedPrecondition
from services.trainer.worker.config import TrainingConfig

CUDA_ONLY_OPTIMIZERS = ("adamw_8bit", "paged_adamw_8bit")


def require_cuda(feature: str, field: str, package: str | None = None) -> None:
    """Raise a clear error when a CUDA-only feature is asked for where there is no CUDA (or its package)."""
    if not torch.cuda.is_available():
        raise FailedPrecondition(
            f"{feature} needs a CUDA GPU{f' and the {package} package' if package else ''}; "
            "this worker has none — choose a CPU-capable setting (e.g. optimizer: adamw)",
            field=field,
        )
    if package:
        try:
            __import__(package)
        except ImportError:
            raise FailedPrecondition(f"{feature} needs the {package} package, which is not installed", field=field) from None


def _is_muon_matrix(name: str, param: torch.Tensor) -> bool:
    # Muon orthogonalises hidden 2-D weight matrices; embeddings, the LM head, norms and biases use AdamW.
    return param.ndim == 2 and "embed" not in name and "lm_head" not in name


def build_optimizers(model: torch.nn.Module, cfg: TrainingConfig) -> list[torch.optim.Optimizer]:
    """One optimizer, or two for Muon (Muon for hidden matrices + AdamW for the rest). The first one runs
    at `learning_rate` and is the one whose LR is reported."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    fused = torch.cuda.is_available() and all(p.is_cuda for _, p in named)
    adam_kwargs = {"lr": cfg.learning_rate, "betas": (cfg.adam_beta1, cfg.adam_beta2), "eps": cfg.adam_epsilon,
                   "weight_decay": cfg.weight_decay}
    if cfg.optimizer == "adamw":
        return [torch.optim.AdamW([p for _, p in named], fused=fused or None, **adam_kwargs)]
    if cfg.optimizer == "sgd":
        return [torch.optim.SGD([p for _, p in named], lr=cfg.learning_rate, momentum=0.9, weight_decay=cfg.weight_decay)]
    if cfg.optimizer in CUDA_ONLY_OPTIMIZERS:
        require_cuda(cfg.optimizer, "optimizer", "bitsandbytes")
        import bitsandbytes as bnb

        kind = bnb.optim.AdamW8bit if cfg.optimizer == "adamw_8bit" else bnb.optim.PagedAdamW8bit
        return [kind([p for _, p in named], **adam_kwargs)]
    if cfg.optimizer == "muon":
        matrices = [p for n, p in named if _is_muon_matrix(n, p)]
        others = [p for n, p in named if not _is_muon_matrix(n, p)]
        optimizers: list[torch.optim.Optimizer] = []
        if others:
            optimizers.append(torch.optim.AdamW(others, fused=fused or None, **adam_kwargs))
        if matrices:
            optimizers.append(
                torch.optim.Muon(matrices, lr=cfg.muon_learning_rate, momentum=cfg.muon_momentum,
                                 weight_decay=cfg.weight_decay)
            )
        return optimizers
    raise AssertionError(f"unhandled optimizer {cfg.optimizer}")  # the config validated the choice


def lr_multiplier(step: int, cfg: TrainingConfig, total_steps: int, step_offset: int = 0) -> float:
    """Linear warm-up over the quest's first `warmup_steps`, then the decay of `lr_schedule` down to
    `min_lr_ratio`: over the rest of the quest (lr_scope quest) or over the hero's global step, `step_offset +
    step`, continued across quests (lr_scope campaign)."""
    warming = bool(cfg.warmup_steps) and step < cfg.warmup_steps
    warm = (step + 1) / cfg.warmup_steps if warming else 1.0
    if cfg.lr_schedule == "constant":
        return warm
    if cfg.lr_scope == "campaign":
        position, span = step_offset + step, cfg.lr_decay_steps
    elif warming:
        return warm
    else:
        position = step - cfg.warmup_steps
        span = cfg.lr_decay_steps if cfg.lr_schedule == "inverse_sqrt" else max(1, total_steps - cfg.warmup_steps)
    if cfg.lr_schedule == "inverse_sqrt":
        shape = math.sqrt(span / (span + position))
    else:
        progress = min(1.0, position / span)
        shape = 0.5 * (1.0 + math.cos(math.pi * progress)) if cfg.lr_schedule == "cosine" else 1.0 - progress
    return warm * (cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * shape)


def build_schedulers(optimizers, cfg: TrainingConfig, total_steps: int,
                     step_offset: int = 0) -> list[torch.optim.lr_scheduler.LambdaLR]:
    return [
        torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_multiplier(step, cfg, total_steps, step_offset))
        for opt in optimizers
    ]
