"""Sparring generation (the "sparring" idle task): which sets a task spars on, parameter errors naming the
parameter, wrong answers to fresh (never frozen-eval) problems becoming correction rows, and those rows reaching
the trainer through the curriculum's outbox like a trial's sparring quest (real SQLite stores)."""

from __future__ import annotations

import json

import pytest

from services.curriculum.deliveries import Deliveries
from services.curriculum.evaluation import EvaluationRunner, EvaluationStore, LoadedModel
from services.curriculum.progression import ProgressionStore, SkillSettings
from services.curriculum.skills.base import eval_set, generate_problems, rows_to_jsonl
from services.curriculum.skills.registry import default_registry
from services.curriculum.sparring import default_seed, parse_request, spar
from services.kit.errors import InvalidArgument, NotFound

REGISTRY = default_registry()


@pytest.fixture
def progression(tmp_path):
    store = ProgressionStore(tmp_path / "progression.db", REGISTRY)
    # The campaign trains BIN at level 3 and not SYLLO.
    store.configure("campaigns/c1", [SkillSettings("bin", training_level_override=3),
                                     SkillSettings("syllo", enabled=False)])
    yield store
    store.close()


class HalfRightModel:
    """Answers a problem by its reference solution when its prompt is in `right`, else with nonsense."""

    def __init__(self, solutions: dict[str, str], right: set[str]) -> None:
        self.solutions = solutions
        self.right = right
        self.asked: list[str] = []

    def __call__(self, model, messages, max_new_tokens):
        prompt = messages[-1]["content"]
        self.asked.append(prompt)
        return self.solutions[prompt] if prompt in self.right else "no idea"


def test_a_task_spars_on_the_enabled_skills_at_their_training_level_by_default(progression):
    request = parse_request({"campaign": "c1", "checkpoint": "assets/a"}, progression, REGISTRY, "tasks/t1")
    assert (request.campaign, request.checkpoint, request.sets, request.problems) == ("c1", "assets/a",
                                                                                      (("bin", 3),), 20)
    assert request.seed == default_seed("tasks/t1") != default_seed("tasks/t2")
    named = parse_request({"campaign": "campaigns/c1", "checkpoint": "assets/a", "skill": "skills/syllo",
                           "level": "2", "problems": "7", "seed": "11"}, progression, REGISTRY, "tasks/t1")
    assert (named.sets, named.problems, named.seed) == ((("syllo", 2),), 7, 11)
    # A named skill without a level spars at that skill's training level in the campaign.
    assert parse_request({"campaign": "c1", "checkpoint": "x", "skill": "bin"}, progression, REGISTRY,
                         "tasks/t").sets == (("bin", 3),)


@pytest.mark.parametrize(("parameters", "field"), [
    ({"checkpoint": "assets/a"}, "campaign"),
    ({"campaign": "c1"}, "checkpoint"),
    ({"campaign": "c1", "checkpoint": "a", "level": "2"}, "level"),
    ({"campaign": "c1", "checkpoint": "a", "skill": "bin", "level": "0"}, "level"),
    ({"campaign": "c1", "checkpoint": "a", "skill": "bin", "level": "two"}, "level"),
    ({"campaign": "c1", "checkpoint": "a", "problems": "0"}, "problems"),
    ({"campaign": "c1", "checkpoint": "a", "problems": "1001"}, "problems"),
    ({"campaign": "c1", "checkpoint": "a", "seed": "-1"}, "seed"),
    ({"campaign": "c1", "checkpoint": "a", "rows": "3"}, "rows"),
])
def test_bad_parameters_name_the_parameter(progression, parameters, field):
    with pytest.raises(InvalidArgument) as caught:
        parse_request(parameters, progression, REGISTRY, "tasks/t")
    assert caught.value.field == field


def test_an_unknown_skill_is_not_found(progression):
    with pytest.raises(NotFound) as caught:
        parse_request({"campaign": "c1", "checkpoint": "a", "skill": "chess"}, progression, REGISTRY, "tasks/t")
    assert caught.value.field == "skill"


def test_wrong_answers_to_fresh_problems_become_correction_rows(progression):
    request = parse_request({"campaign": "c1", "checkpoint": "assets/a", "problems": "12", "seed": "5"},
                            progression, REGISTRY, "tasks/t")
    problems = generate_problems(REGISTRY.get("bin"), 3, 12, 5)
    solutions = {p.prompt[-1].content: p.solution for p in problems}
    right = {p.prompt[-1].content for p in problems[::2]}
    model = HalfRightModel(solutions, right)

    (found,) = spar(request, REGISTRY, model="models/m", chat=model, max_rows=200, concurrency=3)
    assert (found.skill, found.level, found.attempted, found.wrong, len(found.rows)) == ("bin", 3, 12, 6, 6)
    assert sorted(model.asked) == sorted(p.prompt[-1].content for p in problems)
    # Level 3 is held out: none of the problems sparred on is a frozen eval problem.
    frozen = {p.prompt[-1].content for p in eval_set(REGISTRY.get("bin"), 3).problems}
    assert not frozen & set(model.asked)
    wrong = {p.id: p for p in problems[1::2]}
    for row in found.rows:
        problem = wrong[row["metadata"]["id"]]
        assert row["metadata"]["kind"] == "sparring"
        assert row["messages"][-2]["content"].startswith(problem.prompt[-1].content)
        assert "Proposed answer:\nno idea" in row["messages"][-2]["content"]
        assert row["messages"][-1] == {"role": "assistant", "content": f"It is incorrect.\n{problem.solution}"}
    # The same seed draws the same problems; max_rows caps the rows, not the count of wrong answers.
    (capped,) = spar(request, REGISTRY, model="models/m", chat=HalfRightModel(solutions, right), max_rows=2)
    assert (capped.wrong, capped.rows) == (6, found.rows[:2])


class RecordingTrainer:
    def __init__(self) -> None:
        self.quests: list[tuple[str, str, int, bytes, str]] = []

    def submit_correction(self, campaign, skill, level, jsonl, display_name):
        self.quests.append((campaign, skill, level, jsonl, display_name))
        return f"quests/q{len(self.quests)}"


class NoPeer:
    """The trial runner's ports; no trial runs in this test."""

    def load(self, checkpoint):
        return LoadedModel("models/m", checkpoint)


def test_a_sparring_task_quest_is_delivered_like_a_trials(tmp_path, progression):
    store = EvaluationStore(tmp_path / "evaluations.db")
    runner = EvaluationRunner(store, REGISTRY, progression, NoPeer(), NoPeer())
    trainer = RecordingTrainer()
    deliveries = Deliveries(runner, progression, NoPeer(), trainer, poll_s=0.05)
    deliveries.start()
    try:
        rows = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "It is incorrect.\na"}],
                 "metadata": {"kind": "sparring"}}]
        payload = {"evaluation": "", "task": "tasks/t9", "origin": "t9", "campaign": "c1", "checkpoint": "assets/a",
                   "skill": "bin", "level": 3, "rows": 1, "jsonl": rows_to_jsonl(rows).decode()}
        store.queue_effect("sparring", "sparring/tasks/t9/bin/3", payload)
        store.queue_effect("sparring", "sparring/tasks/t9/bin/3", payload)  # a re-run task queues it once
        assert deliveries.wait_idle(10)
        ((campaign, skill, level, jsonl, display_name),) = trainer.quests
        assert (campaign, skill, level, display_name) == ("c1", "bin", 3, "sparring bin L3 t9")
        assert [json.loads(line) for line in jsonl.decode().splitlines()] == rows
        assert store.undelivered_effects() == []
    finally:
        deliveries.close()
        runner.close()
