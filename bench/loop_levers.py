"""Learning per quest: the tiny hero's recipe settings compared on the loop's own quests, without the services.

Quests as the hero loop makes them (BIN L1 rows from the curriculum's generator, a new seed per quest, the default
mantra applied), trained one after the other the way the controller chains them (each quest starts from the
previous quest's final checkpoint with a fresh optimizer), with the worker's recipe. A checkpoint every
--eval-every steps (the loop's wall-time cadence) and each quest's final one get a trial: the frozen L1 eval set
answered greedily (mantra applied, as inference serves it) and graded. Mastery follows the loop's rule: the mean
of the last 3 trials >= 0.9, so a dip after a quest boundary costs what it costs in the loop.

Arms (each the hero's training_defaults with one change): the current heroes/tiny.yaml, and the candidates
given with --arm NAME:key=value,key=value (TrainingConfig fields, or mantra=none for a campaign without the
default mantra). Same model init, same quests, same order, one after the other.

    .venv/bin/python bench/loop_levers.py [--quests 6] [--rows 6000] [--eval-every 100] [--arm NAME:lr_scope=campaign,lr_decay_steps=1500]

RESULT: per arm, the training seconds to L1 mastery; `best` names the arm that got there first.
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

DEFAULT_ARMS = ("campaign:lr_scope=campaign,lr_decay_steps=1500",)


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


class SaveClock:
    """Collects the quest's checkpoints with the training seconds (saves excluded) at which each was taken."""

    def __init__(self, trained_before: float) -> None:
        self.saved: list[tuple[dict, float]] = []
        self._before, self._started, self._saving = trained_before, 0.0, 0.0

    def start(self) -> None:
        self._started = time.perf_counter()

    def sink(self, event: dict) -> None:
        if event["event"] in ("checkpoint_saved", "completed") and event.get("path"):
            seconds = time.perf_counter() - self._started - self._saving + self._before
            if not self.saved or self.saved[-1][0]["path"] != event["path"]:
                self.saved.append((event, seconds))
            self._saving += float(event.get("save_seconds") or 0.0)


def run_arm(name: str, config: dict, hero: Path, quests: list[Path], work: Path, eval_every: int) -> list[dict]:
    """Train the quests one after the other; a trial (the L1 eval) of every checkpoint, saved every `eval_every`
    steps as the loop's wall-time cadence would, and of each quest's final one. Training seconds exclude saves."""
    from services.kit.mantra import Mantra
    from services.trainer.worker.config import build_training_config
    from services.trainer.worker.protocol import Job
    from services.trainer.worker.recipe import TrainingRecipe

    config = dict(config)
    # mantra=none: the campaign sets an empty mantra (no system turn); default: every campaign's default mantra.
    mantra = None if config.pop("mantra", "default") in (None, "none", "") else Mantra()
    today = datetime.date.today()
    model_dir, offset, trials, trained = hero, 0, [], 0.0
    for index, quest in enumerate(quests):
        cfg = build_training_config({}, {**config, "checkpoint_every_steps": eval_every, "checkpoint_every_seconds": 0})
        job = Job(quest=f"quests/{name}-{index}", campaign="campaigns/levers", hero="heroes/tiny",
                  model_dir=model_dir, dataset_path=quest, run_dir=work / name / f"q{index}", config=cfg,
                  global_step_offset=offset, mantra=mantra, mantra_date=today.isoformat())
        clock = SaveClock(trained)
        recipe = TrainingRecipe(job, clock.sink)
        recipe.setup()
        clock.start()
        recipe.train()
        saved, trained = clock.saved, clock.saved[-1][1]
        recipe.cleanup()
        for event, seconds in saved:
            accuracy = evaluate(Path(event["path"]), mantra, today)
            trials.append({"quest": index + 1, "step": event["global_step"], "accuracy": accuracy,
                           "train_seconds": seconds, "quest_end": event["event"] == "completed"})
        model_dir, offset = Path(saved[-1][0]["path"]), saved[-1][0]["global_step"]
        print(f"  {name:<14} quest {index + 1}: step {offset:>5} trials "
              + " ".join(f"{t['accuracy']:.2f}" for t in trials if t["quest"] == index + 1)
              + f" ({trained:.0f} s trained)", flush=True)
    return trials


def show(trial: dict | None) -> str:
    return f"step {trial['step']} {trial['train_seconds']:.0f}s" if trial else "not reached"


def mastered(trials: list[dict], window: int = 3, threshold: float = 0.9) -> dict | None:
    """The trial at which the loop's rule (mean of the last `window` trials >= threshold) first holds."""
    for end in range(window, len(trials) + 1):
        if sum(t["accuracy"] for t in trials[end - window:end]) / window >= threshold:
            return trials[end - 1]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quests", type=int, default=6)
    parser.add_argument("--rows", type=int, default=6000, help="rows per quest (heroes/tiny.yaml idle.batch_rows)")
    parser.add_argument("--arm", action="append", default=None, metavar="NAME:key=value,...")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--eval-every", type=int, default=100,
                        help="steps between checkpoints, each one trialled (~20 s of training here)")
    parser.add_argument("--no-current", action="store_true", help="only the --arm candidates (not heroes/tiny.yaml)")
    args = parser.parse_args(argv)
    import torch

    from realm_ops.tiny_hero import build_tiny_hero

    torch.set_num_threads(args.threads)
    defaults, optimizer = hero_defaults()
    base = {**defaults, "optimizer": optimizer.get("kind", "adamw"), "weight_decay": optimizer.get("weight_decay", 0.0),
            "mantra": "none"}  # as realm play's tiny-hero campaign
    arms = [] if args.no_current else [("current", base)]
    arms += [(n, {**base, **c}) for n, c in map(parse_arm, args.arm or DEFAULT_ARMS)]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="realm-levers-") as tmp:
        work = Path(tmp)
        hero = build_tiny_hero(work / "hero")
        quests = write_quests(work, args.quests, args.rows)
        table = {name: run_arm(name, config, hero, quests, work, args.eval_every) for name, config in arms}
    print(f"\n{'arm':<14}{'trials':>7}{'min mid-quest':>15}{'first >= 0.9':>16}{'mastered (3)':>16}")
    reached = {}
    for name, trials in table.items():
        first = next((t for t in trials if t["accuracy"] >= 0.9), None)
        reached[name] = mastered(trials)
        after_first = [t["accuracy"] for t in trials if first and t["step"] > first["step"] and not t["quest_end"]]
        low = f"{min(after_first):.2f}" if after_first else "-"
        print(f"{name:<14}{len(trials):>7}{low:>15}{show(first):>16}{show(reached[name]):>16}")
    print("min mid-quest: the lowest trial after the first >= 0.9 that was not a quest's final checkpoint")
    print("load average before: {:.1f}/{:.1f}/{:.1f}, after: {:.1f}/{:.1f}/{:.1f}".format(
        *load_before, *os.getloadavg()))
    best = min((n for n in reached if reached[n]), key=lambda n: reached[n]["train_seconds"], default="none")
    parts = " ".join(f"{n}_seconds_to_l1={reached[n]['train_seconds']:.0f}" if reached[n]
                     else f"{n}_seconds_to_l1=not_reached" for n in reached)
    print(f"RESULT {parts} best={best}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
