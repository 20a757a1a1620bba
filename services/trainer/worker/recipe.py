"""The training recipe: one class, its loop in plain sight (setup / train / save_checkpoint / cleanup).

One optimizer step = `gradient_accumulation_steps` micro-batches of `micro_batch_size` packed sequences on
every process. The loss is the mean over every trained (assistant) token of the step across all micro-batches
and processes, so packing, accumulation and DDP give the same gradient as one big batch.

With `examples_per_step` a step instead holds exactly that many examples, packed into rows as wide as its longest.

The data position is a pure function of the quest step: step s reads step k = s % steps_per_epoch of epoch
s // steps_per_epoch, in an order fixed by (seed, epoch) (micro-batches [k*ga, (k+1)*ga), or the k-th group of
examples). Resuming from a checkpoint at step s therefore continues at exactly the next unseen micro-batch.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from services.kit.errors import FailedPrecondition
from services.kit.mantra import write_mantra_file
from services.trainer.worker import checkpoints as ckpt
from services.trainer.worker.config import config_hash
from services.trainer.worker.mantra_rows import rows_with_mantra
from services.trainer.worker.model import (
    accepts_logits_to_keep,
    build_model,
    carry_optimizer_moments,
    full_model_state,
    load_optimizer_states,
    merged_lora_state_dict,
    native_bf16,
    optimizer_states,
    shard_model,
    trained_positions,
)
from services.trainer.worker.optim import build_optimizers, build_schedulers, require_cuda
from services.trainer.worker.packing import IGNORE_INDEX, PackedQuest, read_quest, tokenize_quest
from services.trainer.worker.protocol import (
    HALT_EVENTS,
    CheckpointSavedEvent,
    CompletedEvent,
    ControlWord,
    Job,
    SkippedEvent,
    StartedEvent,
    StepEvent,
    WorkerEvent,
    read_control,
)

log = logging.getLogger("realm.trainer.worker")

# Receives each event's wire form (WorkerEvent.to_dict()): __main__ prints it as one stdout line.
Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Distributed:
    """Where this process sits in a torchrun launch (world_size 1 when launched plainly)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @classmethod
    def from_env(cls) -> Distributed:
        return cls(
            rank=int(os.environ.get("RANK", 0)),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
            world_size=int(os.environ.get("WORLD_SIZE", 1)),
        )

    @property
    def is_main(self) -> bool:
        return self.rank == 0


class TrainingRecipe:
    def __init__(self, job: Job, emit: Emit, dist: Distributed | None = None) -> None:
        self.job = job
        self.cfg = job.config
        self.dist = dist or Distributed()
        self._emit = emit
        self.quest_step = 0
        self.trained_tokens = 0  # non-padding tokens processed in this quest, all processes
        self.last_loss: float | None = None
        self.last_checkpoint: Path | None = None
        # Kept in memory: the service may trim local checkpoint dirs once the vault holds them.
        self.last_checkpoint_step: int | None = None
        self.resumed_from: Path | None = None
        self._signal_stop: ControlWord | None = None
        self._last_save_time = time.monotonic()  # for checkpoint_every_seconds

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        cfg = self.cfg
        self.job.run_dir.mkdir(parents=True, exist_ok=True)
        self._init_distributed()
        self.device = self._pick_device()
        # auto: bf16 autocast (fp32 master weights) wherever bf16 matmuls are native, a CPU included.
        self.use_bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and native_bf16(self.device))
        if cfg.use_liger_kernel:
            require_cuda("use_liger_kernel", "use_liger_kernel", "liger_kernel")
        if cfg.lora_quantize_base_4bit:
            require_cuda("QLoRA (lora_quantize_base_4bit)", "lora_quantize_base_4bit", "bitsandbytes")
        if cfg.examples_per_step and self.dist.world_size > 1:
            # Ranks would take different numbers of forward passes per step (DDP/FSDP collectives would hang).
            raise FailedPrecondition("examples_per_step runs on one process; use micro_batch_size and "
                                     "gradient_accumulation_steps with several", field="examples_per_step")
        self.fsdp = self.dist.world_size > 1 and cfg.distributed == "fsdp"
        if self.fsdp and (cfg.lora_enabled or cfg.optimizer == "muon"):
            raise FailedPrecondition(
                "FSDP runs full fine-tuning with AdamW/SGD; use distributed: ddp for LoRA or Muon", field="distributed"
            )

        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(self.job.model_dir)
        if self.job.chat_template:
            self.tokenizer.chat_template = self.job.chat_template
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer_hash = ckpt.tokenizer_hash(self.job.model_dir, self.tokenizer)
        self.chat_template_hash = ckpt.sha256_text(self.tokenizer.chat_template or "")
        self.config_hash = config_hash(cfg)

        # Data first: a bad quest or template fails here, before any weights are touched.
        rows = rows_with_mantra(self.job, read_quest(self.job.dataset_path))
        examples, self.mask_report = tokenize_quest(
            self.tokenizer, rows, max_seq_len=cfg.max_seq_len,
            min_mask_ratio=cfg.min_mask_ratio, max_mask_ratio=cfg.max_mask_ratio,
        )
        self.data = PackedQuest.build(examples, cfg.max_seq_len, packing=cfg.packing)
        self._plan: tuple[int, list[list[list[list[int]]]]] | None = None
        self.steps_per_epoch = len(self._epoch_plan(0))
        self.total_steps = cfg.max_steps or cfg.epochs * self.steps_per_epoch

        resume_from = self.job.latest_checkpoint() if self.job.resume else None
        if self.dist.is_main:
            ckpt.remove_partial(self.job.checkpoints_dir)
        self.model = build_model(cfg, self.job.model_dir, self.device, use_bf16=self.use_bf16, resume_from=resume_from)
        if self.fsdp:
            # fully_shard swaps the class (FSDPQwen3ForCausalLM); checkpoints name the real one.
            self.architecture = type(self.model).__name__
            shard_model(self.model, self.device, self.dist.world_size)
        self.optimizers = build_optimizers(self.model, cfg)
        self.schedulers = build_schedulers(self.optimizers, cfg, self.total_steps, self.job.global_step_offset)
        if resume_from is not None:
            self._load_trainer_state(resume_from)
        elif cfg.optimizer_scope == "campaign":
            fresh = carry_optimizer_moments(self.model, self.optimizers, self.job.model_dir, cfg, fsdp=self.fsdp,
                                            device=self.device)
            log.info("optimizer moments %s", f"start fresh: {fresh}" if fresh else f"carried from {self.job.model_dir}")
        self.train_model = self.model
        self.logits_at_targets_only = accepts_logits_to_keep(self.model)
        if self.dist.world_size > 1 and not self.fsdp:
            from torch.nn.parallel import DistributedDataParallel

            self.train_model = DistributedDataParallel(
                self.model, device_ids=[self.dist.local_rank] if self.device.type == "cuda" else None
            )

    def _init_distributed(self) -> None:
        if self.dist.world_size > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            torch.distributed.init_process_group(backend=backend)

    def _pick_device(self) -> torch.device:
        if torch.cuda.is_available():
            torch.cuda.set_device(self.dist.local_rank)
            return torch.device("cuda", self.dist.local_rank)
        return torch.device("cpu")

    def _load_trainer_state(self, checkpoint: Path) -> None:
        state = ckpt.read_state(checkpoint)
        if state["config_hash"] != self.config_hash:
            raise FailedPrecondition(
                f"the training config changed since checkpoint {checkpoint.name} "
                f"({state['config_hash'][:12]} -> {self.config_hash[:12]}); start the quest afresh to change it",
                field="config",
            )
        if state["tokenizer_hash"] != self.tokenizer_hash:
            raise FailedPrecondition(f"the tokenizer changed since checkpoint {checkpoint.name}", field="model_dir")
        folder = checkpoint / ckpt.STATE_DIR
        if state.get("distributed", "ddp") != ("fsdp" if self.fsdp else "ddp"):
            raise FailedPrecondition(
                f"checkpoint {checkpoint.name} was written by a {state.get('distributed')} run", field="distributed"
            )
        saved = torch.load(folder / "optimizer.pt", map_location=self.device, weights_only=False)
        load_optimizer_states(self.model, self.optimizers, saved, fsdp=self.fsdp)
        for scheduler, saved in zip(self.schedulers, torch.load(folder / "scheduler.pt", weights_only=False), strict=True):
            scheduler.load_state_dict(saved)
        rng = torch.load(folder / "rng.pt", weights_only=False)
        random.setstate(rng["python"])
        torch.set_rng_state(rng["torch"])
        if torch.cuda.is_available() and rng.get("cuda") is not None:
            torch.cuda.set_rng_state_all(rng["cuda"])
        self.quest_step = state["quest_step"]
        self.trained_tokens = state["quest_trained_tokens"]
        self.last_loss = state.get("loss")
        self.last_checkpoint = checkpoint
        self.last_checkpoint_step = self.quest_step
        self.resumed_from = checkpoint
        log.info("resumed from %s at quest step %d", checkpoint, self.quest_step)

    # ------------------------------------------------------------------ train

    def _epoch_plan(self, epoch: int) -> list[list[list[list[int]]]]:
        """This rank's steps of one epoch: steps -> micro-batches -> rows -> example indices (cached per epoch)."""
        if self._plan is None or self._plan[0] != epoch:
            cfg, dist = self.cfg, self.dist
            if cfg.examples_per_step:
                steps = self.data.epoch_steps_by_examples(
                    epoch, cfg.seed, cfg.examples_per_step, cfg.micro_batch_size, shuffle=cfg.shuffle)
            else:
                batches = [[self.data.sequences[s] for s in batch] for batch in self.data.epoch_micro_batches(
                    epoch, cfg.seed, cfg.micro_batch_size, shuffle=cfg.shuffle,
                    world_size=dist.world_size, rank=dist.rank)]
                ga = cfg.gradient_accumulation_steps
                steps = [batches[i : i + ga] for i in range(0, len(batches), ga)]
            self._plan = (epoch, steps)
        return self._plan[1]

    def _step_batches(self, step: int) -> tuple[int, list[list[list[int]]]]:
        """(epoch, the step's micro-batches as rows of example indices)."""
        epoch, index = divmod(step, self.steps_per_epoch)
        return epoch, self._epoch_plan(epoch)[index]

    @property
    def global_step(self) -> int:
        return self.job.global_step_offset + self.quest_step

    def emit(self, event: type[WorkerEvent], **fields: Any) -> WorkerEvent:
        """Build the event (quest and campaign filled in) and hand it to the sink; only rank 0 reports."""
        built = event(quest=self.job.quest, campaign=self.job.campaign, **fields)
        if self.dist.is_main:
            self._emit(built.to_dict())
        return built

    def request_stop(self, word: ControlWord) -> None:
        """Called from a signal handler: honour like a control word at the next step boundary."""
        self._signal_stop = word

    def train(self) -> str:
        """Run until the quest is done or the controller intervenes; returns the final event's name."""
        cfg = self.cfg
        parameters = sum(p.numel() for p in self.model.parameters())
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        self.emit(
            StartedEvent, hero=self.job.hero, global_step=self.global_step, quest_step=self.quest_step,
            quest_steps_total=self.total_steps, steps_per_epoch=self.steps_per_epoch, resumed_from=str(self.resumed_from) if self.resumed_from else None,
            examples=self.mask_report.examples, sequences=len(self.data.sequences),
            packing_efficiency=round(self.data.efficiency, 4), mask_ratio=round(self.mask_report.mask_ratio, 4),
            dataset_tokens=self.mask_report.total_tokens, config_hash=self.config_hash,
            world_size=self.dist.world_size, device=str(self.device), precision="bf16" if self.use_bf16 else "fp32",
            parameters=parameters, trainable_parameters=trainable,
        )
        session_start, session_steps = time.monotonic(), 0
        self._last_save_time = session_start
        while True:
            control = self._control()
            if control is ControlWord.SKIP:
                return self.emit(SkippedEvent, global_step=self.global_step, quest_step=self.quest_step).KIND.value
            if control in HALT_EVENTS:
                path = self.save_checkpoint() if self._unsaved_progress() else self.last_checkpoint
                return self.emit(HALT_EVENTS[control], global_step=self.global_step, quest_step=self.quest_step,
                                 path=str(path) if path else None).KIND.value
            if self.quest_step >= self.total_steps or control is ControlWord.FINISH:
                break
            tick = time.monotonic()
            metrics = self._train_step()
            self.quest_step += 1
            session_steps += 1
            elapsed = time.monotonic() - tick
            if self.quest_step % cfg.log_every_steps == 0 or self.quest_step == self.total_steps:
                per_step = (time.monotonic() - session_start) / session_steps
                self.emit(
                    StepEvent, global_step=self.global_step, quest_step=self.quest_step,
                    quest_steps_total=self.total_steps, loss=metrics["loss"], learning_rate=metrics["learning_rate"],
                    grad_norm=metrics["grad_norm"], tokens_per_second=round(metrics["tokens"] / max(elapsed, 1e-9), 1),
                    trained_tokens=self.job.trained_tokens_offset + self.trained_tokens,
                    target_tokens=metrics["target_tokens"],
                    eta_seconds=round(per_step * (self.total_steps - self.quest_step), 1),
                    memory_bytes=self._memory_bytes(), epoch=metrics["epoch"],
                )
            if self._checkpoint_due() and self.quest_step < self.total_steps:
                self.save_checkpoint()
        path = self.save_checkpoint() if self._unsaved_progress() else self.last_checkpoint
        return self.emit(CompletedEvent, global_step=self.global_step, quest_step=self.quest_step,
                         loss=self.last_loss, trained_tokens=self.job.trained_tokens_offset + self.trained_tokens,
                         path=str(path) if path else None).KIND.value

    def _checkpoint_due(self) -> bool:
        cfg = self.cfg
        if cfg.checkpoint_every_steps and self.quest_step % cfg.checkpoint_every_steps == 0:
            return True
        if not cfg.checkpoint_every_seconds:
            return False
        due = time.monotonic() - self._last_save_time >= cfg.checkpoint_every_seconds
        if self.dist.world_size > 1:  # every rank must take the same decision (a save is a collective)
            flag = torch.tensor([1.0 if due else 0.0], dtype=torch.float64)
            due = bool(self._all_reduce(flag)[0] > 0)
        return due

    def _train_step(self) -> dict[str, Any]:
        cfg = self.cfg
        epoch, batches = self._step_batches(self.quest_step)
        mask_dtype = torch.float32
        inputs = [self.data.collate_rows(b, pad_token_id=self.tokenizer.pad_token_id, dtype=mask_dtype)
                  for b in batches]
        counts = torch.tensor([sum(i["trained_tokens"] for i in inputs), sum(i["real_tokens"] for i in inputs)],
                              dtype=torch.float64)
        counts = self._all_reduce(counts)
        step_targets, step_tokens = int(counts[0]), int(counts[1])
        loss_sum = torch.zeros(1, dtype=torch.float64, device=self.device)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.use_bf16 else nullcontext()
        for index, batch in enumerate(inputs):
            last = index == len(inputs) - 1
            sync = nullcontext() if (last or self.dist.world_size == 1) else self.train_model.no_sync()
            targets, keep = batch["targets"], {}
            if self.logits_at_targets_only:
                positions = trained_positions(targets)
                targets, keep = targets[:, positions], {"logits_to_keep": positions.to(self.device)}
            with sync, autocast:
                logits = self.train_model(
                    input_ids=batch["input_ids"].to(self.device),
                    position_ids=batch["position_ids"].to(self.device),
                    attention_mask=batch["attention_mask"].to(self.device),
                    use_cache=False, **keep,
                ).logits
                token_loss = F.cross_entropy(
                    logits.float().reshape(-1, logits.shape[-1]), targets.to(self.device).reshape(-1),
                    ignore_index=IGNORE_INDEX, reduction="sum",
                )
                # DDP averages gradients over processes; scale so the result is the mean over all targets.
                (token_loss * self.dist.world_size / max(step_targets, 1)).backward()
            loss_sum += token_loss.detach().double()
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        # max_norm=inf measures the norm without clipping (max_grad_norm 0 = no clipping).
        grad_norm = torch.nn.utils.clip_grad_norm_(trainable, cfg.max_grad_norm or float("inf"))
        if hasattr(grad_norm, "full_tensor"):  # a DTensor under FSDP
            grad_norm = grad_norm.full_tensor()
        loss = float(self._all_reduce(loss_sum)[0]) / max(step_targets, 1)
        if not (math.isfinite(loss) and math.isfinite(float(grad_norm))):
            # Fail before the update so the weights and the last checkpoint stay usable.
            raise FloatingPointError(
                f"non-finite loss ({loss}) or gradient norm ({float(grad_norm)}) at quest step {self.quest_step + 1}; "
                "the update was not applied (lower learning_rate or check the quest)"
            )
        learning_rate = self.optimizers[0].param_groups[0]["lr"]
        for optimizer in self.optimizers:
            optimizer.step()
        for scheduler in self.schedulers:
            scheduler.step()
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        self.trained_tokens += step_tokens
        self.last_loss = loss
        return {"loss": loss, "learning_rate": learning_rate, "grad_norm": float(grad_norm), "epoch": epoch,
                "tokens": step_tokens, "target_tokens": step_targets}

    def _all_reduce(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.dist.world_size > 1:
            # NCCL only reduces CUDA tensors; gloo takes CPU ones. float64 keeps token counts exact.
            reduced = tensor.to(self.device, dtype=torch.float64)
            torch.distributed.all_reduce(reduced)
            tensor = reduced.cpu()
        return tensor

    def _control(self) -> ControlWord | None:
        word = self._signal_stop or (read_control(self.job.run_dir) if self.dist.is_main else None)
        if self.dist.world_size == 1:
            return word
        # Only rank 0 reads the file; every rank must take the same decision at the same step.
        words = (None, *ControlWord)
        code = torch.tensor([words.index(word) if word in words else 0], device=self.device)
        torch.distributed.broadcast(code, src=0)
        return words[int(code)]

    def _unsaved_progress(self) -> bool:
        if self.quest_step == 0:
            return False
        return self.last_checkpoint_step != self.quest_step

    def _memory_bytes(self) -> int:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        try:
            with open("/proc/self/statm") as handle:
                return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            return 0

    # ------------------------------------------------------------------ checkpoints

    def save_checkpoint(self) -> Path | None:
        """Write the HF model + trainer state for the current step atomically; returns its path (rank 0)."""
        path = None
        started = time.monotonic()
        # Under FSDP gathering the full weights and optimizer state is a collective: every rank takes part.
        model_state = full_model_state(self.model) if self.fsdp else None
        optimizer_state = optimizer_states(self.model, self.optimizers, fsdp=self.fsdp)
        if self.dist.is_main:
            path = self._write_checkpoint(optimizer_state, model_state)
            self.last_checkpoint = path
            self.emit(
                CheckpointSavedEvent, path=str(path), global_step=self.global_step, quest_step=self.quest_step,
                config_hash=self.config_hash, tokenizer_hash=self.tokenizer_hash,
                chat_template_hash=self.chat_template_hash, loss=self.last_loss,
                save_seconds=round(time.monotonic() - started, 4),
            )
        self.last_checkpoint_step = self.quest_step
        self._last_save_time = time.monotonic()
        if self.dist.world_size > 1:
            torch.distributed.barrier()
        return path

    def _write_checkpoint(self, optimizer_state: list[dict[str, Any]], model_state: dict | None) -> Path:
        folder = self.job.checkpoints_dir
        temp = ckpt.temp_dir_for(folder, self.global_step)
        model = self.model
        if model_state is not None:
            model.save_pretrained(temp, state_dict=model_state, safe_serialization=True)
            # Servers read `architectures`: name the real class, not FSDP's.
            config_path = temp / "config.json"
            hf_config = json.loads(config_path.read_text())
            hf_config["architectures"] = [self.architecture]
            config_path.write_text(json.dumps(hf_config, indent=2, sort_keys=True) + "\n")
        elif self.cfg.lora_enabled:
            base = model.get_base_model()
            base.save_pretrained(temp, state_dict=merged_lora_state_dict(model), safe_serialization=True)
            model.save_pretrained(temp / ckpt.STATE_DIR / "adapter")
        else:
            model.save_pretrained(temp, safe_serialization=True)
        self.tokenizer.save_pretrained(temp)
        if self.job.mantra is not None:  # serving applies exactly the system turn this checkpoint trained with
            write_mantra_file(temp, self.job.mantra)
        state_folder = temp / ckpt.STATE_DIR
        torch.save(optimizer_state, state_folder / "optimizer.pt")
        torch.save([s.state_dict() for s in self.schedulers], state_folder / "scheduler.pt")
        torch.save({"python": random.getstate(), "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
                   state_folder / "rng.pt")
        epoch, index = divmod(self.quest_step, self.steps_per_epoch)
        state = {
            "quest": self.job.quest, "campaign": self.job.campaign, "hero": self.job.hero,
            "global_step": self.global_step, "quest_step": self.quest_step, "quest_steps_total": self.total_steps,
            "global_step_offset": self.job.global_step_offset,
            "data_position": {"epoch": epoch, "step_in_epoch": index,
                              "next_micro_batch": index * self.cfg.gradient_accumulation_steps},
            "quest_trained_tokens": self.trained_tokens,
            "trained_tokens": self.job.trained_tokens_offset + self.trained_tokens,
            "loss": self.last_loss, "config": self.cfg.to_dict(), "config_hash": self.config_hash,
            "tokenizer_hash": self.tokenizer_hash, "chat_template_hash": self.chat_template_hash,
            "world_size": self.dist.world_size, "distributed": "fsdp" if self.fsdp else "ddp",
            "lora": self.cfg.lora_enabled, "saved_at": time.time(),
        }
        (state_folder / ckpt.STATE_FILE).write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
        return ckpt.publish(temp, folder, self.global_step)

    # ------------------------------------------------------------------ cleanup

    def cleanup(self) -> None:
        if self.dist.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

