"""A campaign's own scheduling preset: kept by ConfigureCampaign, winning over a request's preset when planning."""

from __future__ import annotations

import pytest

from services.curriculum.progression import ProgressionConfig, ProgressionStore, SkillSettings
from services.curriculum.skills.registry import default_registry
from services.kit.errors import InvalidArgument

SKILLS = [SkillSettings("bin", weight=3.0), SkillSettings("syllo", weight=1.0)]


@pytest.fixture
def store(tmp_path):
    s = ProgressionStore(tmp_path / "curriculum.db", default_registry(), ProgressionConfig())
    yield s
    s.close()


def plan(store, preset):
    return {b.skill: b.count for b in store.plan("alpha", preset, 100)}


def test_the_campaign_preset_wins_over_the_request_and_none_keeps_it(store):
    assert store.configure("alpha", SKILLS).preset == ""
    assert plan(store, "weighted") == {"bin": 75, "syllo": 25}
    assert store.configure("alpha", SKILLS, "focus:syllo").preset == "focus:syllo"
    assert plan(store, "weighted") == {"syllo": 100}  # the hero loop's default does not override the campaign
    assert store.configure("alpha", SKILLS, None).preset == "focus:syllo"  # unset keeps it
    assert store.progress("campaigns/alpha").preset == "focus:syllo"
    assert store.configure("alpha", SKILLS, "").preset == ""  # "" clears it
    assert plan(store, "weighted") == {"bin": 75, "syllo": 25}


def test_presets_are_per_campaign_and_survive_reopening(tmp_path, store):
    store.configure("alpha", SKILLS, "weighted")
    store.configure("beta", SKILLS)
    store.close()
    reopened = ProgressionStore(tmp_path / "curriculum.db", default_registry())
    try:
        assert reopened.progress("alpha").preset == "weighted"
        assert reopened.progress("beta").preset == ""
    finally:
        reopened.close()


@pytest.mark.parametrize("bad", ["sideways", "focus", "focus:chess", "equal:bin"])
def test_a_bad_preset_is_refused_at_configure_time_and_nothing_changes(store, bad):
    store.configure("alpha", SKILLS, "weighted")
    with pytest.raises(InvalidArgument) as err:
        store.configure("alpha", [SkillSettings("bin", weight=9.0)], bad)
    assert err.value.field == "preset"
    progress = store.progress("alpha")
    assert progress.preset == "weighted"
    assert next(s.weight for s in progress.skills if s.skill == "bin") == 3.0
