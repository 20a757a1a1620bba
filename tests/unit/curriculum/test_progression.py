"""Progression store: the level-up rule, forward-only, flagged evals, overrides, persistence; scheduling."""

from __future__ import annotations

import pytest

from services.curriculum.progression import (
    ProgressionConfig,
    ProgressionStore,
    SkillSettings,
    apportion,
    parse_preset,
)
from services.curriculum.skills.registry import default_registry
from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound


@pytest.fixture
def store(tmp_path):
    s = ProgressionStore(tmp_path / "curriculum.db", default_registry(), ProgressionConfig(eval_window=3))
    yield s
    s.close()


def skill(progress, name):
    return next(s for s in progress.skills if s.skill == name)


def test_unconfigured_campaign_follows_every_skill_from_level_one(store):
    progress = store.progress("campaigns/alpha")
    assert progress.campaign == "alpha"
    assert [(s.skill, s.mastered_level, s.training_level) for s in progress.skills] == [("bin", 0, 1), ("syllo", 0, 1)]


def test_levels_up_on_the_mean_of_the_last_k_evals(store):
    # BIN L1 needs 0.9. Two evals are not a window of three yet.
    assert not store.record_eval("alpha", "bin", 1, 1.0).leveled_up
    assert not store.record_eval("alpha", "bin", 1, 1.0).leveled_up
    outcome = store.record_eval("alpha", "bin", 1, 0.6)  # mean 0.867 < 0.9
    assert not outcome.leveled_up and outcome.mean_accuracy == pytest.approx(2.6 / 3)
    outcome = store.record_eval("alpha", "bin", 1, 1.0, checkpoint="assets/ck7", global_step=700)  # 1, .6, 1
    assert not outcome.leveled_up
    outcome = store.record_eval("alpha", "bin", 1, 1.0, checkpoint="assets/ck8", global_step=800)  # .6, 1, 1
    assert not outcome.leveled_up and outcome.mean_accuracy == pytest.approx(2.6 / 3)
    outcome = store.record_eval("alpha", "bin", 1, 0.95, checkpoint="assets/ck9", global_step=900)  # 1, 1, .95
    assert outcome.leveled_up
    p = outcome.progress
    assert (p.mastered_level, p.training_level) == (1, 2)
    assert len(p.accuracy_history) == 6
    (change,) = p.progression
    assert (change.from_level, change.to_level, change.checkpoint) == (0, 1, "assets/ck9")
    assert change.mean_accuracy == pytest.approx(0.9833, abs=1e-3)


def test_evals_at_other_levels_do_not_count_and_progress_is_forward_only(store):
    for _ in range(3):
        store.record_eval("alpha", "bin", 1, 1.0)
    assert store.skill_progress("alpha", "bin").mastered_level == 1
    # Failing evals at the mastered level (or any level but the training level) never move it back.
    for _ in range(5):
        outcome = store.record_eval("alpha", "bin", 1, 0.0)
        assert not outcome.leveled_up and not outcome.flagged
    for _ in range(3):
        assert not store.record_eval("alpha", "bin", 5, 1.0).leveled_up
    p = store.skill_progress("alpha", "bin")
    assert (p.mastered_level, p.training_level) == (1, 2)


def test_broken_looking_eval_is_flagged_not_applied(store):
    store.record_eval("alpha", "bin", 1, 1.0)
    store.record_eval("alpha", "bin", 1, 1.0)
    outcome = store.record_eval("alpha", "bin", 1, 0.0, training_loss=0.001)
    assert outcome.flagged and "looks broken" in outcome.flag_reason
    outcome = store.record_eval("alpha", "bin", 1, 1.0)  # window skips the flagged one: 1, 1, 1
    assert outcome.leveled_up
    flagged = [a for a in outcome.progress.accuracy_history if a.flagged]
    assert len(flagged) == 1 and flagged[0].accuracy == 0.0
    # A 0 % eval with a high loss is a real result, not flagged.
    assert not store.record_eval("alpha", "bin", 2, 0.0, training_loss=2.5).flagged


def test_thresholds_and_window_are_configurable(tmp_path):
    cfg = ProgressionConfig(eval_window=1, thresholds={"bin": 0.5})
    s = ProgressionStore(tmp_path / "c.db", default_registry(), cfg)
    assert s.record_eval("beta", "bin", 1, 0.5).leveled_up
    s.close()


def test_override_sets_the_training_level_until_passed(store):
    progress = store.configure("alpha", [SkillSettings("bin", True, 4, 1.0), SkillSettings("syllo", False)])
    b = skill(progress, "bin")
    assert (b.mastered_level, b.training_level, b.training_level_overridden) == (0, 4, True)
    assert not skill(progress, "syllo").enabled
    for _ in range(3):
        outcome = store.record_eval("alpha", "bin", 4, 0.9)
    assert outcome.leveled_up
    p = outcome.progress
    assert (p.mastered_level, p.training_level, p.training_level_overridden) == (4, 5, False)


def test_state_survives_reopening(tmp_path):
    path = tmp_path / "c.db"
    s = ProgressionStore(path, default_registry())
    for _ in range(3):
        s.record_eval("alpha", "syllo", 1, 0.9)
    s.close()
    s = ProgressionStore(path, default_registry())
    p = s.skill_progress("alpha", "syllo")
    assert (p.mastered_level, len(p.accuracy_history), len(p.progression)) == (1, 3, 1)
    s.close()


def test_bad_input_names_the_field(store):
    with pytest.raises(InvalidArgument, match="accuracy"):
        store.record_eval("alpha", "bin", 1, 1.5)
    with pytest.raises(InvalidArgument, match="level"):
        store.record_eval("alpha", "bin", 31, 0.5)
    with pytest.raises(NotFound, match="skill"):
        store.record_eval("alpha", "chess", 1, 0.5)
    with pytest.raises(InvalidArgument, match="campaign"):
        store.progress("campaigns/../etc")
    with pytest.raises(InvalidArgument, match=r"skills\[0\].training_level_override"):
        store.configure("alpha", [SkillSettings("syllo", True, 13)])


def test_apportion_sums_to_total():
    assert apportion(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert apportion(7, {"a": 3, "b": 1, "c": 0}) == {"a": 5, "b": 2}
    assert sum(apportion(1001, {"a": 0.3, "b": 0.7}).values()) == 1001


def test_parse_preset():
    assert parse_preset("focus:bin") == ("focus", "bin") == parse_preset("focus(bin)")
    assert parse_preset("catch_up") == ("catch_up", "")
    assert parse_preset("balanced") == ("equal", "") and parse_preset("focus_weakest") == ("lowest_first", "")
    for bad in ("roundrobin", "focus", "equal:bin", ""):
        with pytest.raises(InvalidArgument, match="preset"):
            parse_preset(bad)


def test_presets(store):
    store.configure("alpha", [SkillSettings("bin", weight=3.0), SkillSettings("syllo", weight=1.0)])
    for _ in range(3):
        store.record_eval("alpha", "bin", 1, 1.0)
    for _ in range(3):
        store.record_eval("alpha", "bin", 2, 1.0)  # bin mastered 2, syllo 0

    def plan(preset):
        return {b.skill: (b.level, b.count) for b in store.plan("alpha", preset, 100)}

    assert plan("equal") == {"bin": (3, 50), "syllo": (1, 50)}
    assert plan("focus:syllo") == {"syllo": (1, 100)}
    assert plan("weighted") == {"bin": (3, 75), "syllo": (1, 25)}
    assert plan("lowest_first") == {"syllo": (1, 100)}
    assert plan("catch_up") == {"syllo": (1, 100)}
    turns = [plan("round_robin") for _ in range(4)]
    assert turns[0] == turns[2] and turns[1] == turns[3] and turns[0] != turns[1]
    assert {**turns[0], **turns[1]} == {"bin": (3, 100), "syllo": (1, 100)}
    store.record_eval("alpha", "syllo", 1, 1.0)
    assert plan("") == plan("equal")


def test_plans_get_fresh_reproducible_seeds(tmp_path, store):
    first = store.plan("alpha", "equal", 10)
    second = store.plan("alpha", "equal", 10)
    assert {b.seed for b in first}.isdisjoint({b.seed for b in second})
    other = ProgressionStore(tmp_path / "other.db", default_registry())
    assert [b.seed for b in other.plan("alpha", "equal", 10)] == [b.seed for b in first]
    other.close()


def test_plan_refuses_when_nothing_is_left(store):
    store.configure("alpha", [SkillSettings("bin", enabled=False)])
    with pytest.raises(FailedPrecondition, match="no enabled skill"):
        store.plan("alpha", "equal", 10)
    store.configure("alpha", [SkillSettings("syllo")])
    with pytest.raises(FailedPrecondition, match="bin is not enabled"):
        store.plan("alpha", "focus:bin", 10)


def test_planned_batches_above_level_one_carry_the_review_share(tmp_path):
    store = ProgressionStore(tmp_path / "c.db", default_registry(), ProgressionConfig(review_share=0.3))
    store.configure("alpha", [SkillSettings("bin"), SkillSettings("syllo", enabled=False)])
    assert [b.review_share for b in store.plan("alpha", "equal", 10)] == [0.0]  # level 1: nothing below
    for _ in range(3):
        store.record_eval("alpha", "bin", 1, 1.0)
    assert [(b.level, b.review_share) for b in store.plan("alpha", "equal", 10)] == [(2, 0.3)]
    store.close()
    with pytest.raises(InvalidArgument) as err:
        ProgressionConfig(review_share=0.9)
    assert err.value.field == "curriculum.review_share"
