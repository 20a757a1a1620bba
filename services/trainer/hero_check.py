"""`realm hero validate`: a hero file checked against its model directory without loading a weight.

Reads only config.json, the tokenizer files (tokenizer.json / vocab.json + merges.txt / tokenizer.model,
tokenizer_config.json, chat_template.jinja) and the safetensors headers. Reports every problem at once, the
training memory estimate (services/trainer/memory.py) for the hero's own training defaults, and which GPU class
(by device memory) that fits on.

Fit rule: a class fits when estimate + CUDA context (0.5 GiB, one process) <= 95 % of its memory (the last 5 %
stays for the driver's reservations and fragmentation the estimate's 10 % overhead does not cover).
CUDA-only features (bitsandbytes 8-bit optimizers, QLoRA, Liger kernels) are requirements: each is checked on
this trainer host (package installed, CUDA available) and reported, never imported.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.kit.errors import InvalidArgument, RealmError
from services.trainer.heroes import (
    HeroRegistry,
    HeroSpec,
    count_safetensors_parameters,
    read_tokenizer_chat_template,
)
from services.trainer.memory import GIB, LoraShape, MemoryEstimate, ModelShape, estimate_memory
from services.trainer.worker.config import TrainingConfig, build_training_config

CUDA_CONTEXT_BYTES = GIB // 2
USABLE_SHARE = 0.95


@dataclass(frozen=True)
class GpuClass:
    name: str
    memory_bytes: int
    examples: str


GPU_CLASSES = (
    GpuClass("24 GB", 24 * GIB, "RTX 3090/4090, A10G, L4"),
    GpuClass("48 GB", 48 * GIB, "RTX A6000, RTX 6000 Ada, L40S, A40"),
    GpuClass("80 GB", 80 * GIB, "A100 80GB, H100 80GB"),
    GpuClass("141 GB", 140 * GIB, "H200 (141 GB HBM3e, ~140 GiB usable)"),
)


@dataclass(frozen=True)
class Finding:
    field: str
    message: str
    error: bool = True


@dataclass(frozen=True)
class Requirement:
    field: str
    package: str
    needs_cuda: bool
    package_installed: bool
    cuda_available: bool

    @property
    def satisfied(self) -> bool:
        return self.package_installed and (self.cuda_available or not self.needs_cuda)

    @property
    def message(self) -> str:
        if self.satisfied:
            return ""
        missing = []
        if self.needs_cuda and not self.cuda_available:
            missing.append("a CUDA GPU")
        if not self.package_installed:
            missing.append(f"the {self.package} package (not installed)")
        return (f"{self.field} needs {' and '.join(missing)} on the training host; this trainer host lacks it, so "
                "the worker will refuse to start here (train on a GPU host, or pick a CPU-capable setting)")


@dataclass(frozen=True)
class GpuFit:
    gpu: GpuClass
    fits: bool
    headroom_bytes: int


@dataclass(frozen=True)
class HeroReport:
    hero: str
    model_dir: Path
    findings: tuple[Finding, ...]
    config: dict[str, Any] = field(default_factory=dict)
    shape: ModelShape | None = None
    parameter_count: int = 0
    parameter_source: str = ""
    training: TrainingConfig | None = None
    estimate: MemoryEstimate | None = None
    fits: tuple[GpuFit, ...] = ()
    requirements: tuple[Requirement, ...] = ()
    sequence_length: int = 0
    micro_batch_size: int = 0

    @property
    def valid(self) -> bool:
        return not any(f.error for f in self.findings)

    @property
    def smallest_fit(self) -> str:
        return next((f.gpu.name for f in self.fits if f.fits), "")

    @property
    def trainable_here(self) -> bool:
        return self.valid and all(r.satisfied for r in self.requirements)


def gpu_fits(total_bytes: int) -> tuple[GpuFit, ...]:
    need = total_bytes + CUDA_CONTEXT_BYTES
    return tuple(GpuFit(gpu=g, fits=need <= int(g.memory_bytes * USABLE_SHARE),
                        headroom_bytes=int(g.memory_bytes * USABLE_SHARE) - need) for g in GPU_CLASSES)


def _cuda_available() -> bool:
    import torch  # only when the hero asks for a CUDA-only feature

    return bool(torch.cuda.is_available())


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def requirements_of(cfg: TrainingConfig, *, cuda_available: Callable[[], bool] = _cuda_available,
                    installed: Callable[[str], bool] = _installed) -> tuple[Requirement, ...]:
    wanted: list[tuple[str, str]] = []
    if cfg.optimizer in ("adamw_8bit", "paged_adamw_8bit"):
        wanted.append((f"optimizer ({cfg.optimizer})", "bitsandbytes"))
    if cfg.lora_quantize_base_4bit:
        wanted.append(("lora_quantize_base_4bit", "bitsandbytes"))
    if cfg.use_liger_kernel:
        wanted.append(("use_liger_kernel", "liger_kernel"))
    if not wanted:
        return ()
    cuda = cuda_available()
    return tuple(Requirement(field=f, package=p, needs_cuda=True, package_installed=installed(p), cuda_available=cuda)
                 for f, p in wanted)


def _tokenizer_ids(model_dir: Path) -> tuple[int, list[Finding]]:
    """The number of token ids the tokenizer can produce (max id + 1) and findings about its files."""
    findings: list[Finding] = []
    tokenizer_json = model_dir / "tokenizer.json"
    if tokenizer_json.is_file():
        try:
            data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return 0, [Finding("tokenizer.json", f"not readable JSON: {exc}")]
        vocab = (data.get("model") or {}).get("vocab") or {}
        ids = list(vocab.values()) if isinstance(vocab, dict) else list(range(len(vocab)))
        ids += [int(t.get("id", 0)) for t in data.get("added_tokens") or [] if isinstance(t, dict)]
        ids = [i for i in ids if isinstance(i, int)]
        if not ids:
            findings.append(Finding("tokenizer.json", "has no vocabulary (model.vocab is empty)"))
        return (max(ids) + 1 if ids else 0), findings
    if (model_dir / "vocab.json").is_file() and (model_dir / "merges.txt").is_file():
        try:
            vocab = json.loads((model_dir / "vocab.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return 0, [Finding("vocab.json", f"not readable JSON: {exc}")]
        return (max(vocab.values()) + 1 if vocab else 0), findings
    if (model_dir / "tokenizer.model").is_file():
        return 0, [Finding("tokenizer.model", "a SentencePiece tokenizer: its vocabulary size is not checked", False)]
    return 0, [Finding("tokenizer", f"no tokenizer files in {model_dir} (tokenizer.json, or vocab.json + merges.txt, "
                                    "or tokenizer.model)")]


def _estimate_inputs(cfg: TrainingConfig) -> tuple[str, str, LoraShape | None]:
    precision = "fp32" if cfg.precision == "fp32" else "bf16"  # "auto" is bf16 on a GPU that has it
    lora = LoraShape(rank=cfg.lora_rank, target_modules=tuple(cfg.lora_target_modules)) if cfg.lora_enabled else None
    if lora is not None and cfg.lora_quantize_base_4bit:
        precision = "nf4"
    return precision, cfg.optimizer, lora


def _local_path(text: str, field: str) -> Path:
    if "\x00" in text:
        raise InvalidArgument("must not contain NUL characters", field=field)
    try:
        return Path(text).expanduser()
    except RuntimeError as exc:  # "~someone" without such a user
        raise InvalidArgument(f"cannot expand {text!r}: {exc}", field=field) from None


def validate_hero(
    heroes: HeroRegistry, name: str, *, model_dir: str = "", micro_batch_size: int = 0, sequence_length: int = 0,
    cuda_available: Callable[[], bool] = _cuda_available, installed: Callable[[str], bool] = _installed,
) -> HeroReport:
    hero: HeroSpec = heroes.get(name)  # NotFound / InvalidArgument name the hero file's problem
    if model_dir:
        override = _local_path(model_dir, "model_dir")
        hero = dataclasses.replace(hero, model_dir=override if override.is_absolute() else heroes.root / override,
                                   parameter_count=0)
    directory = hero.model_dir
    findings: list[Finding] = []
    try:
        training = build_training_config(hero.config_defaults(), {})
    except RealmError as exc:
        findings.append(Finding(f"training_defaults.{exc.field}" if exc.field else "training_defaults", exc.message))
        training = None
    if not directory.is_dir():
        findings.append(Finding("model_dir", f"no directory at {directory}: put the model's Hugging Face files there "
                                             "yourself (Realm never downloads) or point model_dir at them"))
        return HeroReport(hero=hero.name, model_dir=directory, findings=tuple(findings), training=training)
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        findings.append(Finding("config.json", f"missing in {directory}"))
        return HeroReport(hero=hero.name, model_dir=directory, findings=tuple(findings), training=training)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        findings.append(Finding("config.json", f"not readable JSON: {exc}"))
        return HeroReport(hero=hero.name, model_dir=directory, findings=tuple(findings), training=training)

    model_type = str(config.get("model_type") or "")
    if hero.architecture and model_type and hero.architecture.lower() != model_type.lower():
        findings.append(Finding("architecture", f"the hero file says {hero.architecture!r} but config.json's "
                                                f"model_type is {model_type!r}"))
    if not config.get("architectures"):
        findings.append(Finding("config.json", "names no `architectures` (the model class to load)", False))
    try:
        shape = ModelShape.from_hf_config(config)
    except RealmError as exc:
        findings.append(Finding(f"config.json.{exc.field}", exc.message))
        return HeroReport(hero=hero.name, model_dir=directory, findings=tuple(findings), config=config,
                          training=training)

    token_ids, tokenizer_findings = _tokenizer_ids(directory)
    findings += tokenizer_findings
    if token_ids > shape.vocab_size:
        findings.append(Finding("tokenizer", f"the tokenizer produces ids up to {token_ids - 1} but the embedding "
                                             f"has only vocab_size {shape.vocab_size} rows"))
    if not (directory / "tokenizer_config.json").is_file():
        findings.append(Finding("tokenizer_config.json", f"missing in {directory} (special tokens, template)", False))
    if not (hero.chat_template or read_tokenizer_chat_template(directory)):
        findings.append(Finding("chat_template", "neither the hero file nor the tokenizer has a chat template: chat "
                                                 "rows cannot be rendered"))
    max_positions = int(config.get("max_position_embeddings") or 0)
    length = sequence_length or (training.max_seq_len if training else 0)
    if training is not None and max_positions and training.max_seq_len > max_positions:
        findings.append(Finding("training_defaults.max_seq_len", f"{training.max_seq_len} is more than the model's "
                                                                 f"max_position_embeddings {max_positions}"))

    counted = count_safetensors_parameters(directory)
    if counted:
        parameters, source = counted, "safetensors headers"
    elif hero.parameter_count:
        parameters, source = hero.parameter_count, "hero file"
    else:
        parameters, source = shape.parameters, "config.json shape"
    shape = dataclasses.replace(shape, parameter_count=parameters)

    estimate, fits, requirements, batch = None, (), (), 0
    if training is not None:
        precision, optimizer, lora = _estimate_inputs(training)
        batch = micro_batch_size or training.micro_batch_size
        try:
            estimate = estimate_memory(shape, precision=precision, optimizer=optimizer, lora=lora,
                                       micro_batch_size=batch, sequence_length=length,
                                       gradient_checkpointing=training.gradient_checkpointing)
            fits = gpu_fits(estimate.total_bytes)
        except RealmError as exc:
            findings.append(Finding(exc.field or "training_defaults", f"cannot estimate memory: {exc.message}"))
        requirements = requirements_of(training, cuda_available=cuda_available, installed=installed)
        findings += [Finding(r.field, r.message, False) for r in requirements if not r.satisfied]
    return HeroReport(
        hero=hero.name, model_dir=directory, findings=tuple(findings), config=config, shape=shape,
        parameter_count=parameters, parameter_source=source, training=training, estimate=estimate, fits=fits,
        requirements=requirements, sequence_length=length, micro_batch_size=batch,
    )
