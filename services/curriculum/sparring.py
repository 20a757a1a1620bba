"""Sparring generation: the hero answers fresh training problems, and its wrong answers become correction rows.

A trial already turns a share of its wrong eval answers into a sparring quest (evaluation/runner.py). This is the
same idea as a background job the inference host runs when idle (idle_tasks.py, kind "sparring"): the model
answers `problems` freshly generated training problems per (skill, level) — never the frozen eval problems of a
held-out level — each wrong answer becomes a `sparring_row` ("Proposed answer: … It is incorrect." + the worked
solution), and the rows of each set are queued as one high-priority sparring quest on the curriculum's outbox,
which Deliveries sends to the trainer exactly like a trial's.

Task parameters (all strings): campaign, checkpoint (required); skill (default: every enabled skill of the
campaign), level (default: each skill's training level; needs `skill`), problems (per set, default 20),
seed (default: derived from the task's name, so a re-run of the same task draws the same problems).

Plain Python: the model is reached through a `chat(model, messages, max_new_tokens) -> str` callable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from services.curriculum.progression import ProgressionStore, campaign_id
from services.curriculum.skills.base import Problem, generate_problems, sparring_row
from services.curriculum.skills.registry import SkillRegistry
from services.kit.errors import InvalidArgument

Chat = Callable[[str, Sequence[Mapping[str, str]], int], str]
Progress = Callable[[float, str], None]
PARAMETERS = frozenset({"campaign", "checkpoint", "skill", "level", "problems", "seed"})
DEFAULT_PROBLEMS = 20
MAX_PROBLEMS = 1000
TOKEN_SLACK = 32


@dataclass(frozen=True)
class SparringRequest:
    campaign: str
    checkpoint: str
    sets: tuple[tuple[str, int], ...]  # (skill, level)
    problems: int
    seed: int


@dataclass(frozen=True)
class SparringSet:
    skill: str
    level: int
    attempted: int
    rows: tuple[dict[str, Any], ...]  # one correction row per wrong answer (at most max_rows)
    wrong: int


def _integer(parameters: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = parameters.get(key, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgument(f"must be an integer, got {raw!r}", field=key) from None
    if not low <= value <= high:
        raise InvalidArgument(f"must be in [{low}, {high}], got {value}", field=key)
    return value


def default_seed(task_name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"sparring/{task_name}".encode()).digest()[:4], "big") >> 1


def parse_request(parameters: Mapping[str, str], progression: ProgressionStore, registry: SkillRegistry,
                  task_name: str) -> SparringRequest:
    """Check a sparring task's parameters; errors name the parameter."""
    unknown = sorted(set(parameters) - PARAMETERS)
    if unknown:
        raise InvalidArgument(f"unknown parameter; known: {', '.join(sorted(PARAMETERS))}", field=unknown[0])
    if not parameters.get("campaign"):
        raise InvalidArgument("name the campaign whose hero spars", field="campaign")
    if not parameters.get("checkpoint"):
        raise InvalidArgument("name the model that spars (assets/…, an alias or a directory)", field="checkpoint")
    cid = campaign_id(parameters["campaign"])
    if parameters.get("skill"):
        skill = registry.get(parameters["skill"])
        if parameters.get("level"):
            level = _integer(parameters, "level", 1, 1, len(skill.levels()))
        else:
            level = progression.skill_progress(cid, skill.name).training_level
        sets: tuple[tuple[str, int], ...] = ((skill.name, level),)
    else:
        if parameters.get("level"):
            raise InvalidArgument("a level needs a skill (-p skill=…)", field="level")
        sets = tuple((sp.skill, sp.training_level) for sp in progression.progress(cid).skills if sp.enabled)
        if not sets:
            raise InvalidArgument(f"campaign {cid} has no enabled skill; name one", field="skill")
    problems = _integer(parameters, "problems", DEFAULT_PROBLEMS, 1, MAX_PROBLEMS)
    seed = _integer(parameters, "seed", default_seed(task_name), 0, 2**31 - 1)
    return SparringRequest(cid, parameters["checkpoint"], sets, problems, seed)


def spar(request: SparringRequest, registry: SkillRegistry, *, model: str, chat: Chat, max_rows: int,
         concurrency: int = 4, progress: Progress | None = None) -> list[SparringSet]:
    """Answer each set's problems with `model`; every wrong answer (up to `max_rows` per set) becomes a row."""
    results = []
    for index, (skill_name, level) in enumerate(request.sets):
        if progress is not None:
            progress(index / len(request.sets), f"sparring {skill_name} L{level}")
        skill = registry.get(skill_name)
        problems = generate_problems(skill, level, request.problems, request.seed)

        def answer(problem: Problem, skill=skill) -> tuple[Problem, str, bool]:
            response = chat(model, [m.to_dict() for m in problem.prompt], len(problem.solution) + TOKEN_SLACK)
            return problem, response, skill.grade(problem, response).correct

        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sparring") as pool:
            wrong = [(p, r) for p, r, correct in pool.map(answer, problems) if not correct]
        rows = tuple(sparring_row(problem, response) for problem, response in wrong[:max_rows])
        results.append(SparringSet(skill_name, level, len(problems), rows, len(wrong)))
    return results
