"""Learning per quest: the tiny hero's recipe settings compared on the loop's own quests, without the services.

Quests as the hero loop makes them (BIN L1 rows from the curriculum's generator, a new seed per quest, the default
mantra applied), trained one after the other the way the controller chains them (each quest starts from the
previous quest's final checkpoint with a fresh optimizer and lr schedule), with the worker's recipe. After every
quest the frozen L1 eval set is answered greedily (mantra applied, as inference serves it) and graded.

Arms (each the hero's training_defaults with one change): the current heroes/tiny.yaml, and the candidates
given with --arm NAME:key=value,key=value (TrainingConfig fields, or mantra=none for a campaign without the
default mantra). Same model init, same quests, same order, one after the other.

    .venv/bin/python bench/loop_levers.py [--quests 6] [--rows 6000] [--arm constant:lr_schedule=constant]

RESULT: per arm, the quest after which L1 accuracy first reached the pass threshold and the training seconds
up to then; `best` names the arm that got there in the least training time.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "clients", ROOT / "ops", ROOT / "bench"):
    sys.path.insert(0, str(extra))

import yaml  # noqa: E402

DEFAULT_ARMS = ("constant:lr_schedule=constant",)


def parse_arm(text: str) -> tuple[str, dict]:
    name, _, assignments = text.partition(":")
    changes = {}
    for item in filter(None, assignments.split(",")):
        key, _, value = item.partition("=")
        changes[key] = yaml.safe_load(value)
    return name, changes


def hero_defaults() -> dict:
    hero = yaml.safe_load((ROOT / "heroes" / "tiny.yaml").read_text())
    return dict(hero["training_defaults"]), dict(hero.get("optimizer") or {})


def write_quests(folder: Path, count: int, rows: int) -> list[Path]:
    from services.curriculum.skills.base import generate_problems, rows_to_jsonl, training_row
    from services.curriculum.skills.registry import default_registry

    skill = default_registry().get("bin")
    paths = []
    for index in range(count):
        seed = 1000 + index
        path = folder / f"quest-{index}.jsonl"
        path.write_bytes(rows_to_jsonl([training_row(p, seed) for p in generate_problems(skill, 1, rows, seed)]))
        paths.append(path)
    return paths


def evaluate(model_dir: Path, mantra, today) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from services.curriculum.skills.base import eval_set
    from services.curriculum.skills.registry import default_registry
    from services.kit.mantra import apply_mantra

    skill = default_registry().get("bin")
    problems = eval_set(skill, 1).problems
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizer.padding_side = "left"
    prompts = [tokenizer.apply_chat_template(apply_mantra([m.to_dict() for m in p.prompt], mantra, today=today),
                                             tokenize=False, add_generation_prompt=True) for p in problems]
    encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**encoded, max_new_tokens=24, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"))
    texts = tokenizer.batch_decode(out[:, encoded["input_ids"].shape[1]:], skip_special_tokens=True)
    return sum(skill.grade(p, t).correct for p, t in zip(problems, texts, strict=True)) / len(problems)


def run_arm(name: str, config: dict, hero: Path, quests: list[Path], work: Path) -> list[dict]:
    from services.kit.mantra import Mantra
    from services.trainer.worker.config import build_training_config
    from services.trainer.worker.protocol import Job
    from services.trainer.worker.recipe import TrainingRecipe

    config = dict(config)
    # mantra=none: the campaign sets an empty mantra (no system turn); default: every campaign's default mantra.
    mantra = None if config.pop("mantra", "default") in (None, "none", "") else Mantra()
    today = datetime.date.today()
    model_dir, offset, results, trained = hero, 0, [], 0.0
    for index, quest in enumerate(quests):
        cfg = build_training_config({}, {**config, "checkpoint_every_steps": 0, "checkpoint_every_seconds": 0})
        job = Job(quest=f"quests/{name}-{index}", campaign="campaigns/levers", hero="heroes/tiny",
                  model_dir=model_dir, dataset_path=quest, run_dir=work / name / f"q{index}", config=cfg,
                  global_step_offset=offset, mantra=mantra, mantra_date=today.isoformat())
        events: list[dict] = []
        recipe = TrainingRecipe(job, events.append)
        recipe.setup()
        started = time.perf_counter()
        recipe.train()
        trained += time.perf_counter() - started
        recipe.cleanup()
        done = next(e for e in events if e["event"] == "completed")
        model_dir, offset = Path(done["path"]), done["global_step"]
        accuracy = evaluate(model_dir, mantra, today)
        results.append({"quest": index + 1, "steps": offset, "loss": done["loss"], "accuracy": accuracy,
                        "train_seconds": trained})
        print(f"  {name:<14} quest {index + 1}: step {offset:>5} loss {done['loss']:.4f} "
              f"L1 accuracy {accuracy:.2f} ({trained:.0f} s trained)", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quests", type=int, default=6)
    parser.add_argument("--rows", type=int, default=6000, help="rows per quest (heroes/tiny.yaml idle.batch_rows)")
    parser.add_argument("--arm", action="append", default=None, metavar="NAME:key=value,...")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-current", action="store_true", help="only the --arm candidates (not heroes/tiny.yaml)")
    args = parser.parse_args(argv)
    import torch

    from realm_ops.tiny_hero import build_tiny_hero

    torch.set_num_threads(args.threads)
    defaults, optimizer = hero_defaults()
    base = {**defaults, "optimizer": optimizer.get("kind", "adamw"), "weight_decay": optimizer.get("weight_decay", 0.0)}
    arms = [] if args.no_current else [("current", base)]
    arms += [(n, {**base, **c}) for n, c in map(parse_arm, args.arm or DEFAULT_ARMS)]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="realm-levers-") as tmp:
        work = Path(tmp)
        hero = build_tiny_hero(work / "hero")
        quests = write_quests(work, args.quests, args.rows)
        table = {name: run_arm(name, config, hero, quests, work) for name, config in arms}
    threshold = 0.9
    print(f"\n{'arm':<14}" + "".join(f"{'q' + str(i + 1):>7}" for i in range(args.quests)) + f"{'to 0.9':>16}")
    reached = {}
    for name, results in table.items():
        first = next((r for r in results if r["accuracy"] >= threshold), None)
        reached[name] = first
        to = f"q{first['quest']} {first['train_seconds']:.0f}s" if first else "not reached"
        print(f"{name:<14}" + "".join(f"{r['accuracy']:>7.2f}" for r in results) + f"{to:>16}")
    print("load average before: {:.1f}/{:.1f}/{:.1f}, after: {:.1f}/{:.1f}/{:.1f}".format(
        *load_before, *os.getloadavg()))
    best = min((n for n in reached if reached[n]), key=lambda n: reached[n]["train_seconds"], default="none")
    parts = " ".join(f"{n}_quests_to_l1={reached[n]['quest'] if reached[n] else 'not_reached'}" for n in reached)
    print(f"RESULT {parts} best={best}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
