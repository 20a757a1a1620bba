"""The curriculum's domain facade: skills, batches, eval sets, grading, sparring, validation, progression.

Plain Python (no grpc): the servicer adapts protos to these calls.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from services.curriculum.config import CurriculumConfig
from services.curriculum.progression import ProgressionStore
from services.curriculum.skills.base import (
    EvalSet,
    GradeOutcome,
    Message,
    Problem,
    Skill,
    eval_set,
    generate_problems,
    iter_problems,
    level_spec,
    rows_to_jsonl,
    sidecar,
    sparring_row,
    training_row,
)
from services.curriculum.skills.registry import SkillRegistry, default_registry
from services.curriculum.validation import DatasetValidator, ValidationOptions
from services.kit.errors import InvalidArgument, NotFound

_EVAL_NAME = re.compile(r"^skills/([a-z0-9_-]+)/levels/(\d+)/evalSet$")
_EVAL_PROBLEM_ID = re.compile(r"^([a-z0-9_-]+)-L(\d+)-e(\d+)$")
MAX_UNARY_ROWS = 20_000


@dataclass(frozen=True)
class Batch:
    rows: list[dict[str, Any]]
    jsonl: bytes
    sidecar: dict[str, Any]


@dataclass(frozen=True)
class GradedItem:
    problem: Problem
    response: str
    outcome: GradeOutcome


class CurriculumDomain:
    def __init__(self, registry: SkillRegistry, store: ProgressionStore) -> None:
        self.registry = registry
        self.store = store

    @classmethod
    def from_config(cls, config: CurriculumConfig) -> CurriculumDomain:
        registry = default_registry()
        return cls(registry, ProgressionStore(config.progression_db, registry, config.progression))

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ skills and generation
    def skill(self, name: str) -> Skill:
        return self.registry.get(name)

    def generate(self, skill_name: str, level: int, count: int, seed: int, mode: str = "",
                 review_share: float = 0.0) -> Batch:
        if count > MAX_UNARY_ROWS:
            raise InvalidArgument(f"at most {MAX_UNARY_ROWS} rows per call; use StreamBatch for more", field="count")
        skill = self.skill(skill_name)
        problems = generate_problems(skill, level, count, seed, mode or None, review_share)
        rows = [training_row(p, seed) for p in problems]
        return Batch(rows, rows_to_jsonl(rows), sidecar(skill, level, seed, count, mode or None, review_share))

    def stream(self, skill_name: str, level: int, count: int, seed: int, mode: str = "",
               chunk_rows: int = 256, review_share: float = 0.0) -> Iterator[list[dict[str, Any]]]:
        """The rows of `generate`, chunk by chunk, generated lazily (memory stays one chunk)."""
        if chunk_rows < 0:
            raise InvalidArgument("must be >= 0", field="chunk_rows")
        problems = iter_problems(self.skill(skill_name), level, count, seed, mode or None,
                                 review_share)  # validates now
        chunk = chunk_rows or 256

        def chunks() -> Iterator[list[dict[str, Any]]]:
            while rows := [training_row(p, seed) for p in itertools.islice(problems, chunk)]:
                yield rows

        return chunks()

    def sidecar(self, skill_name: str, level: int, count: int, seed: int, mode: str = "",
                review_share: float = 0.0) -> dict[str, Any]:
        return sidecar(self.skill(skill_name), level, seed, count, mode or None, review_share)

    def eval_set(self, name: str) -> EvalSet:
        m = _EVAL_NAME.match(name)
        if not m:
            raise InvalidArgument("must look like skills/{skill}/levels/{level}/evalSet", field="name")
        skill = self.skill(m.group(1))
        level_spec(skill, int(m.group(2)))
        return eval_set(skill, int(m.group(2)))

    # ------------------------------------------------------------------ grading
    def resolve_problem(self, skill: Skill, problem_id: str, level: int, expected: str, payload_json: str,
                        messages: Sequence[tuple[str, str]], field: str) -> Problem:
        """An eval problem is graded against the server's frozen copy; any other against its payload."""
        m = _EVAL_PROBLEM_ID.match(problem_id)
        if m and m.group(1) == skill.name:
            es = eval_set(skill, int(m.group(2)))
            index = int(m.group(3))
            if index < len(es.problems) and es.problems[index].id == problem_id:
                return es.problems[index]
            raise NotFound(f"no eval problem {problem_id!r}", field=f"{field}.id")
        try:
            payload = json.loads(payload_json) if payload_json else None
        except ValueError as exc:
            raise InvalidArgument(f"not JSON: {exc}", field=f"{field}.payload_json") from None
        if not isinstance(payload, dict):
            raise InvalidArgument("needs the generator's payload object (or an eval problem id)",
                                  field=f"{field}.payload_json")
        prompt = tuple(Message(r, c) for r, c in messages)
        return Problem(skill.name, level, "", "", prompt, expected, expected, payload, problem_id)

    def grade(self, skill_name: str, items: Sequence[tuple[Problem, str]]) -> list[GradedItem]:
        skill = self.skill(skill_name)
        graded = []
        for i, (problem, response) in enumerate(items):
            try:
                outcome = skill.grade(problem, response)
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise InvalidArgument(f"payload does not fit {skill.name}: {exc!r}",
                                      field=f"items[{i}].problem.payload_json") from None
            graded.append(GradedItem(problem, response, outcome))
        return graded

    def sparring(self, graded: Sequence[GradedItem]) -> list[dict[str, Any]]:
        rows = []
        for item in graded:
            if item.outcome.correct:
                continue
            if not item.problem.prompt or not item.problem.solution:
                raise InvalidArgument("a sparring row needs the problem's prompt messages and solution",
                                      field=f"items[{item.problem.id}].problem")
            rows.append(sparring_row(item.problem, item.response))
        return rows

    # ------------------------------------------------------------------ validation
    def validator(self, options: ValidationOptions) -> DatasetValidator:
        return DatasetValidator(options)
