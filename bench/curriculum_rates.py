"""Curriculum throughput: generation and grading rows/s per skill, and dataset validation MB/s.

Baseline, measured in the same run on the same rows: a JSON round-trip (dumps + loads) of each row, the least
any consumer of the rows does. A ratio of 0.25 means generating a row costs four JSON round-trips of it.

    .venv/bin/python bench/curriculum_rates.py [--seconds 0.6]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "clients"))

from services.curriculum.skills.base import (  # noqa: E402
    eval_set,
    generate_problems,
    rows_to_jsonl,
    training_row,
)
from services.curriculum.skills.registry import default_registry  # noqa: E402
from services.curriculum.validation import Level, ValidationOptions, validate_bytes  # noqa: E402

CASES = [("bin", 1), ("bin", 8), ("bin", 30), ("syllo", 1), ("syllo", 6), ("syllo", 12)]


def rate(fn, items: int, seconds: float) -> float:
    """Items per second of `fn` (which processes `items` items per call), repeated for about `seconds`."""
    fn()  # warm caches (eval sets, lexicon pools)
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls * items / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.6, help="time per measurement")
    parser.add_argument("--rows", type=int, default=200, help="rows per generation call")
    args = parser.parse_args(argv)
    registry = default_registry()
    result: dict[str, float] = {}
    print(f"{'skill':<6}{'lvl':>4}{'gen rows/s':>12}{'grade rows/s':>14}{'json rt rows/s':>16}"
          f"{'gen/json':>10}{'grade/json':>12}")
    for name, level in CASES:
        skill = registry.get(name)
        problems = generate_problems(skill, level, args.rows, seed=1)
        rows = [training_row(p, 1) for p in problems]
        graded = eval_set(skill, level).problems
        gen = rate(lambda skill=skill, level=level: generate_problems(skill, level, args.rows, seed=2),
                   args.rows, args.seconds)
        grade = rate(lambda skill=skill, graded=graded: [skill.grade(p, p.solution) for p in graded],
                     len(graded), args.seconds)
        baseline = rate(lambda rows=rows: [json.loads(json.dumps(r, ensure_ascii=False)) for r in rows],
                        len(rows), args.seconds)
        print(f"{name:<6}{level:>4}{gen:>12.0f}{grade:>14.0f}{baseline:>16.0f}{gen / baseline:>10.3f}"
              f"{grade / baseline:>12.3f}")
        result[f"{name}_L{level}_gen_rows_s"] = round(gen)
        result[f"{name}_L{level}_grade_rows_s"] = round(grade)
        result[f"{name}_L{level}_gen_vs_json"] = round(gen / baseline, 3)
        result[f"{name}_L{level}_grade_vs_json"] = round(grade / baseline, 3)

    # Validation: a ~4 MB chat_sft_v1 file, against a plain json.loads of every line.
    bin_skill, syllo_skill = registry.get("bin"), registry.get("syllo")
    data = rows_to_jsonl([training_row(p, 0) for p in generate_problems(bin_skill, 8, 8000, seed=3)]
                         + [training_row(p, 0) for p in generate_problems(syllo_skill, 6, 3000, seed=3)])
    megabytes = len(data) / 1e6
    lines = data.splitlines()
    baseline = rate(lambda: [json.loads(line) for line in lines], 1, args.seconds) * megabytes
    print(f"\nvalidation of {megabytes:.1f} MB ({len(lines)} rows); baseline json.loads per line: "
          f"{baseline:.1f} MB/s")
    print(f"{'level':<10}{'MB/s':>8}{'vs json':>9}")
    for level in (Level.QUICK, Level.STANDARD, Level.DEEP):
        options = ValidationOptions(schema_id="chat_sft_v1", level=level, max_length=4096)
        mbs = rate(lambda options=options: validate_bytes(data, options), 1, args.seconds) * megabytes
        print(f"{level.name.lower():<10}{mbs:>8.1f}{mbs / baseline:>9.3f}")
        result[f"validate_{level.name.lower()}_mb_s"] = round(mbs, 1)
        result[f"validate_{level.name.lower()}_vs_json"] = round(mbs / baseline, 3)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
