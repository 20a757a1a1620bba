"""Trained (non-padding) tokens per second: our worker's recipe (packing) vs Hugging Face `Trainer` (padding).

Same tiny hero (Qwen3, random init), same quest (chat rows of varied length, assistant-only labels from the same
tokenization), same number of epochs, same optimizer settings, same batch budget: `batch` rows of `max_seq_len`
tokens per optimizer step. Our rows are packed with several examples; Trainer's rows hold one example each,
padded to max_seq_len (`padding="max_length"`, the common SFT setup) and, as a second, kinder baseline, padded
only to the longest example of the batch (dynamic padding). One thread each, run one after the other.

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


def run_ours(hero: Path, quest: Path, run_dir: Path, *, batch: int, max_seq_len: int, epochs: int, lr: float) -> dict:
    config = build_training_config({}, {"micro_batch_size": batch, "max_seq_len": max_seq_len, "epochs": epochs,
                                        "learning_rate": lr, "lr_schedule": "cosine", "warmup_steps": 0,
                                        "max_grad_norm": 1.0, "checkpoint_every_steps": 0})
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

    recipe = TrainingRecipe(job, emit)
    recipe.setup()
    recipe.train()
    steps = [e for e in events if e["event"] == "step"]
    real = steps[-1]["trained_tokens"]
    slots = 0
    for step in range(recipe.total_steps):
        _, batches = recipe._step_batches(step)
        for b in batches:
            slots += recipe.data.collate(b, pad_token_id=recipe.tokenizer.pad_token_id)["input_ids"].numel()
    seconds = marks["end"] - marks["start"]
    return {"tokens": real, "seconds": seconds, "tokens_per_second": real / seconds, "steps": len(steps),
            "efficiency": real / slots, "final_loss": steps[-1]["loss"]}


class _Rows(torch.utils.data.Dataset):
    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]


def run_hf_trainer(hero: Path, examples, out_dir: Path, *, batch: int, max_seq_len: int, epochs: int, lr: float,
                   padding: str) -> dict:
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

    def counting_collator(features):
        out = collator(features)
        stats["real"] += int(out["attention_mask"].sum())
        stats["slots"] += out["attention_mask"].numel()
        return out

    args = TrainingArguments(
        output_dir=str(out_dir), per_device_train_batch_size=batch, num_train_epochs=epochs, learning_rate=lr,
        lr_scheduler_type="cosine", warmup_steps=0, max_grad_norm=1.0, weight_decay=0.0, logging_steps=10_000,
        save_strategy="no", report_to=[], use_cpu=True, dataloader_num_workers=0, disable_tqdm=True, seed=0,
        remove_unused_columns=False,
    )
    trainer = Trainer(model=model, args=args, train_dataset=_Rows(rows), data_collator=counting_collator,
                      callbacks=[Count()])
    trainer.remove_callback(PrinterCallback)  # keep stdout for the table
    result = trainer.train()
    seconds = timing["end"] - timing["start"]
    return {"tokens": stats["real"], "seconds": seconds, "tokens_per_second": stats["real"] / seconds,
            "steps": result.global_step, "efficiency": stats["real"] / stats["slots"],
            "final_loss": result.training_loss}


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
    print(
        f"RESULT speedup_vs_hf_padded={ours['tokens_per_second'] / hf_max['tokens_per_second']:.2f} "
        f"speedup_vs_hf_dynamic={ours['tokens_per_second'] / hf_dyn['tokens_per_second']:.2f} "
        f"packing_efficiency={ours['efficiency']:.3f} hf_padded_efficiency={hf_max['efficiency']:.3f} "
        f"hf_dynamic_efficiency={hf_dyn['efficiency']:.3f} ours_tokens_per_s={ours['tokens_per_second']:.0f}"
    )


if __name__ == "__main__":
    main()
