"""Trained (non-padding) tokens per second: our worker's recipe (packing) vs Hugging Face `Trainer` (padding).

Same tiny hero (Qwen3, random init), same quest (chat rows of varied length, assistant-only labels from the same
tokenization), same number of epochs, same optimizer settings, same batch budget: `batch` rows of `max_seq_len`
tokens per optimizer step. Our rows are packed with several examples; Trainer's rows hold one example each,
padded to max_seq_len (`padding="max_length"`, the common SFT setup) and, as a second, kinder baseline, padded
only to the longest example of the batch (dynamic padding). One thread each, run one after the other.

Time to loss (tokens/s alone hides learning per token): HF `Trainer` with pad-to-longest, `batch` examples per
optimizer step, one epoch; its target is the mean loss of its last 10 % of steps (where its epoch ends). Our
worker runs exactly the same examples per optimizer step (`examples_per_step: batch`: each step's examples packed
into as few rows as they fit, one forward pass), so the same number of steps and the same lr schedule, and
Trainer is fed the same examples in each step; each run's time to the target is the first moment the trailing
mean of its step losses (same window) is at or below it. Trainer runs twice: fp32 (its default) and with its
`bf16=True` (our `precision: auto` is bf16 on a CPU with native bf16 matmuls; the table says which ran).

    .venv/bin/python bench/trainer_throughput.py [--rows 600] [--epochs 1] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))  # realm_ops.tiny_hero

from realm_ops.tiny_hero import build_tiny_hero  # noqa: E402
from services.trainer.worker.config import build_training_config  # noqa: E402
from services.trainer.worker.packing import IGNORE_INDEX, read_quest, tokenize_quest  # noqa: E402
from services.trainer.worker.protocol import Job  # noqa: E402
from services.trainer.worker.recipe import TrainingRecipe  # noqa: E402

WORDS = "apple banana cherry dragon ember forest garden harbor island jungle kettle lantern meadow".split()


def write_quest(path: Path, rows: int, seed: int = 0) -> Path:
    """Curriculum-like rows: binary addition (1-3 turns) and word puzzles, 20-200 tokens each."""
    rng = random.Random(seed)
    with open(path, "w") as handle:
        for _ in range(rows):
            messages = [{"role": "system", "content": "You are a careful tutor. Reply only with the answer."}]
            if rng.random() < 0.6:
                for _ in range(rng.randint(1, 3)):
                    bits = rng.randint(2, 8)
                    a, b = rng.randrange(2**bits), rng.randrange(2**bits)
                    messages += [{"role": "user", "content": f"{a:b} + {b:b} = ?"},
                                 {"role": "assistant", "content": f"{a + b:b}"}]
            else:
                words = [rng.choice(WORDS) for _ in range(rng.randint(3, 25))]
                messages += [{"role": "user", "content": "Count the letters of each word: " + " ".join(words)},
                             {"role": "assistant", "content": " ".join(str(len(w)) for w in words)}]
            handle.write(json.dumps({"messages": messages}) + "\n")
    return path


def run_ours(hero: Path, quest: Path, run_dir: Path, *, batch: int, max_seq_len: int, epochs: int, lr: float,
             curve: list[tuple[float, float]] | None = None, examples_per_step: int = 0, precision: str = "auto"
             ) -> dict:
    config = build_training_config({}, {"precision": precision, "micro_batch_size": batch, "max_seq_len": max_seq_len, "epochs": epochs,
                                        "learning_rate": lr, "lr_schedule": "cosine", "warmup_steps": 0,
                                        "max_grad_norm": 1.0, "checkpoint_every_steps": 0,
                                        "examples_per_step": examples_per_step})
    job = Job(quest="quests/bench", campaign="campaigns/bench", hero="heroes/tiny", model_dir=hero,
              dataset_path=quest, run_dir=run_dir, config=config)
    events: list[dict] = []
    marks: dict[str, float] = {}

    def emit(event: dict) -> None:
        events.append(event)
        if event["event"] == "started":
            marks["start"] = time.perf_counter()
        elif event["event"] == "step":
            marks["end"] = time.perf_counter()
            if curve is not None:
                curve.append((marks["end"] - marks["start"], event["loss"]))

    recipe = TrainingRecipe(job, emit)
    recipe.setup()
    recipe.train()
    steps = [e for e in events if e["event"] == "step"]
    real = steps[-1]["trained_tokens"]
    slots = rows = 0
    order: list[int] = []  # the examples in the order the steps took them
    for step in range(recipe.total_steps):
        _, batches = recipe._step_batches(step)
        for b in batches:
            rows += len(b)
            order += [index for row in b for index in row]
            slots += recipe.data.collate_rows(b, pad_token_id=recipe.tokenizer.pad_token_id)["input_ids"].numel()
    seconds = marks["end"] - marks["start"]
    return {"tokens": real, "seconds": seconds, "tokens_per_second": real / seconds, "steps": len(steps),
            "efficiency": real / slots, "final_loss": steps[-1]["loss"], "rows": rows,
            "precision": events[0]["precision"], "order": order, "examples": recipe.data.examples}


class _Rows(torch.utils.data.Dataset):
    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]


def run_hf_trainer(hero: Path, examples, out_dir: Path, *, batch: int, max_seq_len: int, epochs: int, lr: float,
                   padding: str, curve: list[tuple[float, float]] | None = None, bf16: bool = False,
                   order: list[int] | None = None) -> dict:
    """`order`: feed the examples in exactly this order (else Trainer's own seeded shuffle)."""
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    tokenizer = AutoTokenizer.from_pretrained(hero)
    rows = []
    for example in examples:
        # HF shifts labels itself: label[i] = the token at i when it is trained (our targets shifted back).
        labels = [IGNORE_INDEX] + list(example.targets[:-1])
        rows.append({"input_ids": list(example.input_ids), "attention_mask": [1] * len(example),
                     "labels": labels})
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(hero, dtype=torch.float32)
    collator = DataCollatorForSeq2Seq(tokenizer, padding=padding, max_length=max_seq_len, label_pad_token_id=-100)
    stats = {"real": 0, "slots": 0}
    timing: dict[str, float] = {}

    class Count(TrainerCallback):
        def on_train_begin(self, *args, **kwargs):
            timing["start"] = time.perf_counter()

        def on_train_end(self, *args, **kwargs):
            timing["end"] = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if curve is not None and logs and "loss" in logs:
                curve.append((time.perf_counter() - timing["start"], float(logs["loss"])))

    def counting_collator(features):
        out = collator(features)
        stats["real"] += int(out["attention_mask"].sum())
        stats["slots"] += out["attention_mask"].numel()
        return out

    args = TrainingArguments(
        output_dir=str(out_dir), per_device_train_batch_size=batch, num_train_epochs=epochs, learning_rate=lr,
        lr_scheduler_type="cosine", warmup_steps=0, max_grad_norm=1.0, weight_decay=0.0,
        logging_steps=1 if curve is not None else 10_000,
        save_strategy="no", report_to=[], use_cpu=True, bf16=bf16, dataloader_num_workers=0, disable_tqdm=True, seed=0,
        remove_unused_columns=False,
    )
    if order is not None:
        rows = [rows[index] for index in order]

    class InOrder(Trainer):
        def _get_train_sampler(self, *args, **kwargs):
            return torch.utils.data.SequentialSampler(self.train_dataset)

    trainer = (InOrder if order is not None else Trainer)(model=model, args=args, train_dataset=_Rows(rows), data_collator=counting_collator,
                      callbacks=[Count()])
    trainer.remove_callback(PrinterCallback)  # keep stdout for the table
    result = trainer.train()
    seconds = timing["end"] - timing["start"]
    return {"tokens": stats["real"], "seconds": seconds, "tokens_per_second": stats["real"] / seconds,
            "steps": result.global_step, "efficiency": stats["real"] / stats["slots"],
            "final_loss": result.training_loss}


def time_to(curve: list[tuple[float, float]], target: float, window: int) -> float | None:
    """First time the trailing mean of `window` step losses is at or below target (None: never)."""
    for index in range(window - 1, len(curve)):
        if sum(loss for _, loss in curve[index - window + 1:index + 1]) / window <= target:
            return curve[index][0]
    return None


def time_to_loss(hero: Path, quest: Path, examples, tmp_path: Path, *, batch: int, max_seq_len: int, lr: float
                 ) -> dict:
    """HF Trainer (pad to longest, `batch` examples per step, 1 epoch) sets the target; ours chases it with the
    same `batch` examples in every step, packed. Trainer is fed our steps' examples in our order, so each of its
    steps holds exactly the examples of ours (the loss of a step depends a lot on which examples it holds)."""
    ours_curve: list[tuple[float, float]] = []
    ours = run_ours(hero, quest, tmp_path / "ours-ttl", batch=batch, max_seq_len=max_seq_len, epochs=1, lr=lr,
                    curve=ours_curve, examples_per_step=batch)
    assert [e.input_ids for e in ours["examples"]] == [e.input_ids for e in examples], "the same tokenized quest"
    common = {"batch": batch, "max_seq_len": max_seq_len, "epochs": 1, "lr": lr, "padding": "longest",
              "order": ours["order"]}
    hf_curve: list[tuple[float, float]] = []
    run_hf_trainer(hero, examples, tmp_path / "hf-ttl", curve=hf_curve, **common)
    window = max(1, len(hf_curve) // 10)
    target = sum(loss for _, loss in hf_curve[-window:]) / window
    # HF's own bf16 switch (CPU autocast, fp32 weights), chasing the same target: ours runs bf16 on such a CPU.
    hf_bf16_curve: list[tuple[float, float]] = []
    run_hf_trainer(hero, examples, tmp_path / "hf-ttl-bf16", curve=hf_bf16_curve, bf16=True, **common)
    # Ours in fp32 too, so the table also shows the like-for-like precision.
    ours_fp32_curve: list[tuple[float, float]] = []
    run_ours(hero, quest, tmp_path / "ours-ttl-fp32", batch=batch, max_seq_len=max_seq_len, epochs=1, lr=lr,
             curve=ours_fp32_curve, examples_per_step=batch, precision="fp32")
    return {"target": target, "window": window, "hf_steps": len(hf_curve), "ours_steps": len(ours_curve),
            "hf_seconds": time_to(hf_curve, target, window), "ours_seconds": time_to(ours_curve, target, window),
            "hf_bf16_seconds": time_to(hf_bf16_curve, target, window), "ours_precision": ours["precision"],
            "ours_fp32_seconds": time_to(ours_fp32_curve, target, window),
            "ours_fp32_final": sum(loss for _, loss in ours_fp32_curve[-window:]) / window,
            "ours_final": sum(loss for _, loss in ours_curve[-window:]) / window,
            "examples_per_step": batch, "rows_per_step": ours["rows"] / max(1, ours["steps"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-seq-len", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats; the fastest of each counts")
    args = parser.parse_args()
    torch.set_num_threads(1)
    import transformers

    transformers.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        hero = build_tiny_hero(tmp_path / "hero")
        quest = write_quest(tmp_path / "quest.jsonl", args.rows)
        from transformers import AutoTokenizer

        examples, report = tokenize_quest(AutoTokenizer.from_pretrained(hero), read_quest(quest),
                                          max_seq_len=args.max_seq_len, min_mask_ratio=0, max_mask_ratio=1)
        common = {"batch": args.batch, "max_seq_len": args.max_seq_len, "epochs": args.epochs, "lr": args.lr}
        # The machine is shared: interleave the three runs and keep each one's fastest repeat.
        runs: dict[str, list[dict]] = {"ours": [], "hf_max": [], "hf_dyn": []}
        for repeat in range(args.repeats):
            runs["ours"].append(run_ours(hero, quest, tmp_path / f"run{repeat}", **common))
            runs["hf_max"].append(run_hf_trainer(hero, examples, tmp_path / "hf1", padding="max_length", **common))
            runs["hf_dyn"].append(run_hf_trainer(hero, examples, tmp_path / "hf2", padding="longest", **common))
        ours, hf_max, hf_dyn = (max(runs[k], key=lambda r: r["tokens_per_second"]) for k in ("ours", "hf_max", "hf_dyn"))
        ttl = time_to_loss(hero, quest, examples, tmp_path, batch=args.batch, max_seq_len=args.max_seq_len, lr=args.lr)

    print(f"quest: {report.examples} rows, {report.total_tokens} tokens, mean {report.total_tokens / report.examples:.0f}"
          f" tokens/row; batch budget {args.batch} x {args.max_seq_len} tokens; {args.epochs} epoch(s); 1 thread")
    header = f"{'run':<34}{'steps':>6}{'tokens':>9}{'seconds':>9}{'tokens/s':>10}{'non-pad':>9}{'loss':>8}"
    print(header)
    print("-" * len(header))
    for name, r in (("realm worker (packed, block mask)", ours), ("HF Trainer, pad to max_length", hf_max),
                    ("HF Trainer, pad to longest", hf_dyn)):
        print(f"{name:<34}{r['steps']:>6}{r['tokens']:>9}{r['seconds']:>9.2f}{r['tokens_per_second']:>10.0f}"
              f"{r['efficiency']:>9.3f}{r['final_loss']:>8.3f}")
    assert ours["tokens"] == hf_max["tokens"] == hf_dyn["tokens"], "each run must see the same real tokens"

    def secs(value: float | None) -> str:
        return f"{value:.2f}" if value is not None else "not reached"

    print(f"\ntime to HF Trainer's end-of-epoch loss {ttl['target']:.3f} (mean of its last {ttl['window']} steps; "
          f"same trailing mean for both):")
    print(f"{'run':<40}{'ex/step':>8}{'rows/step':>10}{'steps':>7}{'seconds':>13}")
    print(f"{'HF Trainer, pad to longest':<40}{ttl['examples_per_step']:>8}{ttl['examples_per_step']:>10.1f}"
          f"{ttl['hf_steps']:>7}{secs(ttl['hf_seconds']):>13}")
    print(f"{'HF Trainer, pad to longest, bf16':<40}{ttl['examples_per_step']:>8}{ttl['examples_per_step']:>10.1f}"
          f"{ttl['hf_steps']:>7}{secs(ttl['hf_bf16_seconds']):>13}")
    print(f"{'realm worker (examples_per_step, ' + ttl['ours_precision'] + ')':<40}{ttl['examples_per_step']:>8}{ttl['rows_per_step']:>10.1f}"
          f"{ttl['ours_steps']:>7}{secs(ttl['ours_seconds']):>13}   (its own final {ttl['ours_final']:.3f})")
    print(f"{'realm worker (examples_per_step, fp32)':<40}{ttl['examples_per_step']:>8}{ttl['rows_per_step']:>10.1f}"
          f"{ttl['ours_steps']:>7}{secs(ttl['ours_fp32_seconds']):>13}   (its own final {ttl['ours_fp32_final']:.3f})")
    def ratio(baseline: float | None, ours_seconds: float | None) -> str:
        return f"{baseline / ours_seconds:.2f}" if baseline and ours_seconds else "not_reached"

    print(
        f"RESULT time_to_loss_speedup_vs_hf_dynamic={ratio(ttl['hf_seconds'], ttl['ours_seconds'])} "
        f"time_to_loss_speedup_vs_hf_dynamic_bf16={ratio(ttl['hf_bf16_seconds'], ttl['ours_seconds'])} "
        f"ours_precision={ttl['ours_precision']} "
        f"time_to_loss_speedup_vs_hf_dynamic_both_fp32={ratio(ttl['hf_seconds'], ttl['ours_fp32_seconds'])} speedup_vs_hf_padded={ours['tokens_per_second'] / hf_max['tokens_per_second']:.2f} "
        f"speedup_vs_hf_dynamic={ours['tokens_per_second'] / hf_dyn['tokens_per_second']:.2f} "
        f"packing_efficiency={ours['efficiency']:.3f} hf_padded_efficiency={hf_max['efficiency']:.3f} "
        f"hf_dynamic_efficiency={hf_dyn['efficiency']:.3f} ours_tokens_per_s={ours['tokens_per_second']:.0f}"
    )


if __name__ == "__main__":
    main()
