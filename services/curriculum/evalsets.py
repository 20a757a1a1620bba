"""Frozen eval sets: their content hashes are locked in data/evalsets.lock.json.

Eval sets are derived from the skill version alone (see skills/base.py), so the lock is the proof they are
frozen: a code change that moved any eval problem fails the lock check (tests and `--check`) until the skill
version is bumped and the lock rewritten on purpose (`python -m services.curriculum.evalsets --write`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from services.curriculum.skills.base import eval_set
from services.curriculum.skills.registry import SkillRegistry, default_registry

LOCK_PATH = Path(__file__).resolve().parent / "data" / "evalsets.lock.json"


def current_hashes(registry: SkillRegistry) -> dict[str, dict[str, str]]:
    hashes: dict[str, dict[str, str]] = {}
    for skill in registry.all():
        hashes[f"{skill.name}@{skill.version}"] = {
            str(spec.number): eval_set(skill, spec.number).content_hash for spec in skill.levels()}
    return hashes


def locked_hashes(path: Path = LOCK_PATH) -> dict[str, dict[str, str]]:
    return json.loads(path.read_text())


def mismatches(registry: SkillRegistry, path: Path = LOCK_PATH) -> list[str]:
    locked, now = locked_hashes(path), current_hashes(registry)
    problems = []
    for key, levels in now.items():
        if key not in locked:
            problems.append(f"{key}: not in the lock")
            continue
        for level, digest in levels.items():
            if locked[key].get(level) != digest:
                problems.append(f"{key} L{level}: {digest[:12]} != locked {str(locked[key].get(level))[:12]}")
    return problems


def write_lock(registry: SkillRegistry, path: Path = LOCK_PATH) -> None:
    locked = locked_hashes(path) if path.exists() else {}
    locked.update(current_hashes(registry))  # older skill versions stay recorded
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as handle:
        json.dump(locked, handle, indent=1, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="check or rewrite the eval-set lock")
    parser.add_argument("--write", action="store_true", help="rewrite the lock from the current code")
    args = parser.parse_args(argv)
    registry = default_registry()
    if args.write:
        write_lock(registry)
        print(f"wrote {LOCK_PATH}")
        return 0
    problems = mismatches(registry)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
