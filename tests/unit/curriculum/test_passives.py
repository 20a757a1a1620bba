"""Transfer baselines: which frozen sets a campaign's passives are, the base measured once, and a planted
regression (the checkpoint forgot SYLLO) showing as a loss against the base model."""

from __future__ import annotations

import pytest

from services.curriculum.passives import Passives, PassivesConfig, PassiveSet
from services.curriculum.passives_store import PassivesStore
from services.curriculum.progression import ProgressionStore, SkillSettings
from services.curriculum.skills.base import eval_set
from services.curriculum.skills.registry import default_registry
from services.kit.config import ConfigError


@pytest.fixture
def passives(tmp_path):
    registry = default_registry()
    progression = ProgressionStore(tmp_path / "curriculum.db", registry)
    # The campaign trains BIN at level 3 and does not train SYLLO at all.
    progression.configure("campaigns/c1", [SkillSettings("bin", training_level_override=3)])
    made = Passives(PassivesStore(tmp_path / "passives.db"), registry, progression,
                    PassivesConfig(problems_per_set=6, concurrency=2))
    yield made
    made.store.close()
    progression.close()


class AnsweringModel:
    """Answers the frozen problems by their reference solution, except the skills it has `forgotten`."""

    def __init__(self, forgotten: dict[str, set[str]]) -> None:
        registry = default_registry()
        self.problems = {p.prompt[-1].content: p for name in registry.names()
                         for level in range(1, 4) for p in eval_set(registry.get(name), level).problems}
        self.forgotten = forgotten
        self.asked: list[tuple[str, str]] = []

    def __call__(self, model, messages, max_new_tokens):
        problem = self.problems[messages[-1]["content"]]
        self.asked.append((model, problem.skill))
        if problem.skill in self.forgotten.get(model, set()):
            return "I do not remember how to do this."
        return problem.solution


def test_passive_sets_are_untrained_skills_and_levels_below_the_training_one(passives):
    assert passives.sets("c1") == [PassiveSet("bin", 1), PassiveSet("bin", 2), PassiveSet("syllo", 1),
                                   PassiveSet("syllo", 2)]


def test_a_planted_regression_shows_against_the_base_model(passives):
    model = AnsweringModel({"models/ckpt-2": {"syllo"}})
    passives.run("c1", model="models/base", checkpoint="var/heroes/base", base=True, chat=model)
    passives.run("c1", model="models/ckpt-1", checkpoint="assets/ckpt-1", base=False, chat=model, global_step=10)
    passives.run("c1", model="models/ckpt-2", checkpoint="assets/ckpt-2", base=False, chat=model, global_step=20)

    report = passives.report("campaigns/c1")
    assert report.base_model == "var/heroes/base"
    by_key = {(r.measurement.checkpoint, r.measurement.skill, r.measurement.level): r for r in report.rows}
    assert by_key[("var/heroes/base", "syllo", 1)].measurement.accuracy == 1.0
    assert not any(r.regression for r in report.rows if r.measurement.checkpoint != "assets/ckpt-2")
    for level in (1, 2):
        forgot = by_key[("assets/ckpt-2", "syllo", level)]
        assert forgot.has_base and forgot.delta == -1.0 and forgot.regression
        kept = by_key[("assets/ckpt-2", "bin", level)]
        assert kept.has_base and kept.delta == 0.0 and not kept.regression
    summary = {s.skill: s for s in report.skills}
    assert summary["syllo"].checkpoint == "assets/ckpt-2" and summary["syllo"].regression
    assert summary["syllo"].mean_delta == -1.0 and summary["syllo"].levels == (1, 2)
    assert not summary["bin"].regression


def test_the_base_model_is_measured_once_per_set(passives):
    model = AnsweringModel({})
    first = passives.run("c1", model="models/base", checkpoint="base", base=True, chat=model)
    asked = len(model.asked)
    again = passives.run("c1", model="models/base", checkpoint="base", base=True, chat=model)
    assert len(first) == 4 and again == [] and len(model.asked) == asked == 4 * 6


def test_a_checkpoint_without_a_base_result_has_no_delta(passives):
    passives.run("c1", model="m", checkpoint="assets/x", base=False, chat=AnsweringModel({"m": {"bin"}}))
    report = passives.report("c1")
    assert report.base_model == "" and report.skills == ()
    assert all(not r.has_base and not r.regression for r in report.rows)


@pytest.mark.parametrize(("raw", "key"), [({"problems_per_set": 0}, "problems_per_set"),
                                          ({"regression_threshold": 2}, "regression_threshold"),
                                          ({"bogus": 1}, "bogus"), ("yes", "passives")])
def test_config_errors_name_the_key(raw, key):
    with pytest.raises(ConfigError) as caught:
        PassivesConfig.from_section(raw)
    assert key in str(caught.value)
