"""How fast does the hero learn under Realm? `make run`'s loop for a fixed budget, next to a plain PyTorch loop.

1. Services as `make run` starts them: the repository's realm.yaml and heroes/tiny.yaml (only data_dir and ports
   moved to a temporary folder), the tiny hero built fresh, `realm up`, and the default campaign that `realm play`
   creates (for the tiny hero: BIN only, no mantra). It runs until BIN L2 is mastered (or, with --full, the whole
   budget: the README's hour, with BIN L3 trials) or the budget ends, then reads
   the trainer's own time split (GetLoopTime), the trials' cost (curriculum evaluations) and the level-ups.
2. A plain loop in this process, on the same model (same builder and seed: the same initial weights) and the same
   generated problems (the BIN L1 rows of the quests the campaign trained on): AdamW, padded batches of 64,
   assistant-only loss, greedy batched `generate` on the frozen L1 eval set every `--plain-eval-every` seconds;
   time to the first eval at the L1 pass threshold (evaluation time included).

    .venv/bin/python bench/loop_speed.py [--minutes 12] [--plain-minutes 6]
    .venv/bin/python bench/loop_speed.py --minutes 60 --full     # the README's hour (adds BIN L3 trials)

RESULT: l1_minutes, l2_minutes (minutes from the campaign's activation to each BIN mastery level-up;
"not_reached" within the budget), trainer_busy_share, l1_vs_plain_loop (Realm's L1 time / the plain loop's).
The machine's load average is printed with the figures: other work on the same cores slows both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "clients", ROOT / "ops", ROOT / "bench"):
    sys.path.insert(0, str(extra))

import yaml  # noqa: E402

SERVICES = ("vault", "curriculum", "inference", "trainer", "warden", "gateway")


def free_ports(count: int) -> list[int]:
    from services.kit.ports import free_ports as pick

    return pick(count)


def set_dotted(raw: dict, assignment: str) -> None:
    """`section.key=value` (value parsed as YAML) into the mapping: a lever to compare against the defaults."""
    key, _, value = assignment.partition("=")
    *parents, leaf = key.split(".")
    for part in parents:
        raw = raw.setdefault(part, {})
    raw[leaf] = yaml.safe_load(value)


def write_config(work: Path, overrides: list[str], hero_overrides: list[str]) -> Path:
    """realm.yaml and heroes/tiny.yaml of the repository, with data_dir and every port moved (+ overrides)."""
    raw = yaml.safe_load((ROOT / "realm.yaml").read_text())
    raw["data_dir"] = str(work / "var")
    ports = iter(free_ports(2 * len(raw["services"])))
    for service in raw["services"].values():
        service["port"] = next(ports)
        if "metrics_port" in service:
            service["metrics_port"] = next(ports)
    raw["trainer"]["heroes_dir"] = str(work / "heroes")
    raw.setdefault("backup", {})["interval_s"] = 0
    (work / "heroes").mkdir()
    hero = yaml.safe_load((ROOT / "heroes" / "tiny.yaml").read_text())
    hero["model_dir"] = str(work / "var" / "heroes" / "tiny")
    for assignment in hero_overrides:
        set_dotted(hero, assignment)
    for assignment in overrides:
        set_dotted(raw, assignment)
    (work / "heroes" / "tiny.yaml").write_text(yaml.safe_dump(hero, sort_keys=False))
    path = work / "realm.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def wait_for(predicate, timeout: float, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception:  # services are still starting
            pass
        time.sleep(interval)
    return None


def bin_levels(realm, campaign: str) -> dict[int, float]:
    """to_level -> epoch seconds of each BIN mastery level-up."""
    from realm.curriculum.v1 import curriculum_pb2 as cpb

    progress = realm.curriculum.GetCampaignProgress(cpb.GetCampaignProgressRequest(campaign=campaign)).progress
    skill = next(s for s in progress.skills if s.skill in ("bin", "skills/bin"))
    return {c.to_level: c.time.ToNanoseconds() / 1e9 for c in skill.progression}


def run_realm(work: Path, budget_s: float, overrides: list[str], hero_overrides: list[str], *,
              full: bool = False) -> dict:
    from realm.sdk import connect
    from realm_ops.play import ensure_campaign
    from realm_ops.tiny_hero import build_tiny_hero

    config = write_config(work, overrides, hero_overrides)
    build_tiny_hero(work / "var" / "heroes" / "tiny")
    from realm_ops.play import PLAY_ENVIRONMENT

    log = open(work / "up.log", "wb")
    env = {**PLAY_ENVIRONMENT, **os.environ}  # what `realm play` gives the supervisor
    up = subprocess.Popen([sys.executable, "-m", "realm.cli.main", "--config", str(config), "up"], stdout=log,
                          stderr=subprocess.STDOUT, cwd=work, start_new_session=True, env=env)
    try:
        from realm.settings import load_settings

        conf = load_settings(config)
        from realm.health import probe

        started = wait_for(lambda: all(probe(conf.service(n), timeout=1.0).serving
                                       for n in ("vault", "curriculum", "inference", "trainer")), 300)
        if not started:
            raise RuntimeError(f"services did not start; see {work / 'up.log'}")
        realm = connect(config)
        args = argparse.Namespace(campaign="default", hero="tiny", skill=None)
        campaign = ensure_campaign(realm, args)
        origin = time.time()
        print(f"services up; campaign {campaign} active; budget {budget_s / 60:.0f} min", flush=True)
        levels: dict[int, float] = {}
        last_print = 0.0
        while time.time() - origin < budget_s:
            try:
                levels = bin_levels(realm, campaign)
            except Exception as exc:  # a restarting curriculum
                print(f"  (progress unavailable: {type(exc).__name__})", flush=True)
            if 2 in levels and not full:
                break
            if time.time() - last_print >= 60:
                last_print = time.time()
                status = realm.trainer.status()
                print(f"  {(time.time() - origin) / 60:5.1f} min  step {status.last_step.global_step:>6}  "
                      f"loss {status.last_step.loss:.4f}  levels {sorted(levels)}", flush=True)
            time.sleep(5)
        elapsed = time.time() - origin
        status = realm.trainer.status()
        return {"campaign": campaign, "elapsed_s": elapsed, "levels": {k: v - origin for k, v in levels.items()},
                "loop": loop_time(realm, campaign), "trials": trial_costs(realm, campaign),
                "bin_trials": bin_trials(realm, campaign, origin), "steps": status.last_step.global_step,
                "trained_tokens": status.last_step.trained_tokens,
                "quests_dir": str(work / "var" / "trainer" / "quests")}
    finally:
        os.killpg(up.pid, signal.SIGTERM)
        try:
            up.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
        log.close()


def loop_time(realm, campaign: str) -> dict:
    from realm.trainer.v1 import loop_time_pb2 as lpb

    loop = realm.trainer.GetLoopTime(lpb.GetLoopTimeRequest(campaign=campaign)).loop_time
    return {"training": loop.training_seconds, "worker_startup": loop.worker_startup_seconds,
            "checkpoint_save": loop.checkpoint_save_seconds, "waiting_for_data": loop.waiting_for_data_seconds,
            "idle": loop.idle_seconds, "wall": loop.wall_seconds, "busy_share": loop.busy_share,
            "upload": loop.upload_seconds, "worker_starts": loop.worker_starts, "worker_reuses": loop.worker_reuses}


def trial_costs(realm, campaign: str) -> dict:
    from realm.curriculum.v1 import curriculum_pb2 as cpb

    found = realm.curriculum.ListEvaluations(cpb.ListEvaluationsRequest(campaign=campaign, page_size=1000))
    done = [e for e in found.evaluations if e.state == cpb.EVALUATION_STATE_SUCCEEDED and e.start_time.seconds]
    seconds = sum((e.end_time.ToNanoseconds() - e.start_time.ToNanoseconds()) / 1e9 for e in done)
    waits = [(e.start_time.ToNanoseconds() - e.create_time.ToNanoseconds()) / 1e9 for e in done]
    superseded = sum(e.state == cpb.EVALUATION_STATE_SUPERSEDED for e in found.evaluations)
    return {"count": len(done), "seconds": seconds, "mean_wait_s": sum(waits) / len(waits) if waits else 0.0,
            "superseded": superseded}


def bin_trials(realm, campaign: str, origin: float) -> list[tuple[float, int, float]]:
    """(minutes from the campaign's start, level, accuracy) of every graded BIN result, oldest first."""
    from realm.curriculum.v1 import curriculum_pb2 as cpb

    found = realm.curriculum.ListEvaluations(cpb.ListEvaluationsRequest(campaign=campaign, page_size=1000))
    graded = []
    for evaluation in found.evaluations:
        if evaluation.state != cpb.EVALUATION_STATE_SUCCEEDED:
            continue
        minute = (evaluation.end_time.ToNanoseconds() / 1e9 - origin) / 60
        graded += [(minute, r.level, r.accuracy) for r in evaluation.results if r.skill in ("bin", "skills/bin")]
    return sorted(graded)


def level_accuracy(trials: list[tuple[float, int, float]], level: int, by_minute: float) -> float | None:
    """Mean accuracy of the last 3 trials at `level` that ended by `by_minute` (the mastery rule's window)."""
    window = [a for minute, lvl, a in trials if lvl == level and minute <= by_minute][-3:]
    return sum(window) / len(window) if window else None


def quest_rows(quests_dir: Path, level: int) -> list[dict]:
    """The BIN rows of the given level from the quests the campaign trained on."""
    rows = []
    for path in sorted(Path(quests_dir).glob("*/quest.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line) if line.strip() else None
            meta = (row or {}).get("metadata") or {}
            if row and meta.get("skill") == "bin" and int(meta.get("level", 0)) == level:
                rows.append(row)
    return rows


def run_plain(work: Path, rows: list[dict], budget_s: float, eval_every_s: float, threads: int) -> dict:
    """The plain loop: same model init and rows, time to the L1 pass threshold on the frozen eval set."""
    import torch
    from curriculum_bin_learnability import batches, evaluate
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from realm_ops.tiny_hero import build_tiny_hero
    from services.curriculum.skills.base import eval_set
    from services.curriculum.skills.registry import default_registry

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    hero = build_tiny_hero(work / "plain-hero")
    tokenizer = AutoTokenizer.from_pretrained(hero)
    model = AutoModelForCausalLM.from_pretrained(hero)
    skill = default_registry().get("bin")
    frozen = eval_set(skill, 1)
    threshold = next(spec for spec in skill.levels() if spec.number == 1).pass_threshold
    examples = []
    for row in rows:
        messages = row["messages"]
        prompt_ids = tokenizer.apply_chat_template(messages[:-1], tokenize=True, add_generation_prompt=True)
        full_ids = tokenizer.apply_chat_template(messages, tokenize=True)
        examples.append((full_ids, [-100] * len(prompt_ids) + full_ids[len(prompt_ids):]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    stream = batches(examples, 64, tokenizer.pad_token_id, torch.Generator().manual_seed(0))
    start = last_eval = time.perf_counter()
    step, reached, accuracy = 0, None, 0.0
    model.train()
    while time.perf_counter() - start < budget_s:
        ids, labels, mask = next(stream)
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        if time.perf_counter() - last_eval >= eval_every_s:
            accuracy = evaluate(model, tokenizer, skill, frozen.problems)
            last_eval = time.perf_counter()
            if accuracy >= threshold:
                reached = last_eval - start
                break
    return {"rows": len(examples), "steps": step, "accuracy": accuracy, "seconds": reached,
            "threshold": threshold}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=12.0, help="budget for the Realm loop")
    parser.add_argument("--plain-minutes", type=float, default=6.0, help="budget for the plain loop")
    parser.add_argument("--plain-eval-every", type=float, default=15.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, stores)")
    parser.add_argument("--full", action="store_true",
                        help="run the whole budget (not only until L2) and report BIN L3 trials, e.g. --minutes 60")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="realm.yaml override, e.g. trainer.worker_reuse=false (repeatable)")
    parser.add_argument("--hero-set", action="append", default=[], metavar="KEY=VALUE",
                        help="heroes/tiny.yaml override, e.g. training_defaults.lr_schedule=constant")
    args = parser.parse_args(argv)
    from realm_ops.play import PLAY_ENVIRONMENT

    # The plain loop runs in this process: the same OpenMP wait policy as the services (set before torch starts).
    for name, value in PLAY_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="realm-loop-speed-"))
    try:
        realm = run_realm(work, args.minutes * 60, args.set, args.hero_set, full=args.full)
        if args.set or args.hero_set:
            print("overrides: " + " ".join(args.set + [f"hero:{h}" for h in args.hero_set]))
        rows = quest_rows(Path(realm["quests_dir"]), 1)
        load_mid = os.getloadavg()
        plain = run_plain(work, rows, args.plain_minutes * 60, args.plain_eval_every, args.threads)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    load_after = os.getloadavg()

    loop, trials, levels = realm["loop"], realm["trials"], realm["levels"]
    wall = loop["wall"] or 1.0
    print(f"\nRealm loop, {realm['elapsed_s'] / 60:.1f} min (trainer wall {wall / 60:.1f} min):")
    print(f"{'phase':<26}{'seconds':>10}{'share':>8}")
    for phase in ("training", "worker_startup", "checkpoint_save", "waiting_for_data", "idle"):
        print(f"{phase:<26}{loop[phase]:>10.1f}{loop[phase] / wall:>8.1%}")
    print(f"{'upload (beside)':<26}{loop['upload']:>10.1f}")
    print(f"{'trials (beside)':<26}{trials['seconds']:>10.1f}   {trials['count']} trials, mean wait "
          f"{trials['mean_wait_s']:.1f} s, {trials['superseded']} superseded")
    print(f"worker processes started {loop['worker_starts']}, jobs handed to a running worker "
          f"{loop['worker_reuses']}")

    def minutes(level: int) -> str:
        return f"{levels[level] / 60:.2f}" if level in levels else "not_reached"

    plain_min = plain["seconds"] / 60 if plain["seconds"] is not None else None
    print(f"\n{'':<28}{'Realm':>12}{'plain loop':>12}")
    print(f"{'BIN L1 mastered (min)':<28}{minutes(1):>12}{(f'{plain_min:.2f}' if plain_min else 'not_reached'):>12}")
    print(f"{'BIN L2 mastered (min)':<28}{minutes(2):>12}{'-':>12}")
    print(f"plain loop: {plain['rows']} L1 rows from the campaign's quests, {plain['steps']} steps, "
          f"accuracy {plain['accuracy']:.2f} (threshold {plain['threshold']})")
    print("load average (1/5/15 min): before {:.1f}/{:.1f}/{:.1f}, after Realm {:.1f}/{:.1f}/{:.1f}, "
          "after plain {:.1f}/{:.1f}/{:.1f}".format(*load_before, *load_mid, *load_after))
    l3 = {}
    if args.full:
        trials_by_level = realm["bin_trials"]
        print(f"\n{realm['steps']} steps, {realm['trained_tokens'] / 1e6:.1f} M trained tokens, "
              f"{len({round(m, 4) for m, _, _ in trials_by_level})} graded trials")
        print(f"{'minute':>8}" + "".join(f"{'L' + str(n) + ' (mean of 3)':>16}" for n in (1, 2, 3)))
        for minute in range(10, int(args.minutes) + 1, 10):
            cells = [level_accuracy(trials_by_level, n, minute) for n in (1, 2, 3)]
            print(f"{minute:>8}" + "".join(f"{c:>16.2f}" if c is not None else f"{'-':>16}" for c in cells))
        for minute in (30, int(args.minutes)):
            value = level_accuracy(trials_by_level, 3, minute)
            l3[minute] = f"{value:.2f}" if value is not None else "none"
        best = max((a for _, lvl, a in trials_by_level if lvl == 3), default=None)
        l3["best"] = f"{best:.2f}" if best is not None else "none"
    ratio = f"{levels[1] / 60 / plain_min:.2f}" if 1 in levels and plain_min else "not_measured"
    print(f"RESULT l1_minutes={minutes(1)} l2_minutes={minutes(2)} trainer_busy_share={loop['busy_share']:.3f} "
          f"l1_vs_plain_loop={ratio} load_1m={load_before[0]:.1f}"
          + "".join(f" l3_accuracy_{k}{'min' if k != 'best' else ''}={v}" for k, v in l3.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
