"""Skill levels are named as such in every curriculum message: the hero's level (from XP) is another thing."""

from __future__ import annotations

from types import SimpleNamespace

from services.curriculum.evaluation import LevelUp
from services.curriculum.progression import ProgressionStore, SkillSettings
from services.curriculum.remote import SdkVault
from services.curriculum.skills.registry import default_registry

CHANGE = LevelUp("c", "bin", 1, 2, "assets/ck1", 0.95)


def test_a_level_up_message_names_the_skill():
    assert CHANGE.describe() == "skill bin reached level 2 (mastered; was level 1)"
    assert "hero" not in CHANGE.describe()


def test_the_ledger_level_up_event_carries_that_message():
    sent = []
    vault = SimpleNamespace(AppendLedgerEvent=lambda request: sent.append(request))
    SdkVault(SimpleNamespace(vault=vault)).append_level_up(CHANGE)
    (request,) = sent
    assert request.event.message == "skill bin reached level 2 (mastered; was level 1)"
    assert dict(request.event.attributes)["skill"] == "bin"


def test_plan_reasons_say_skill_level(tmp_path):
    store = ProgressionStore(tmp_path / "c.db", default_registry())
    store.configure("c", [SkillSettings("bin"), SkillSettings("syllo")])
    for preset, phrase in (("lowest_first", "lowest mastered skill level (0)"),
                           ("catch_up", "leading mastered skill level (0)")):
        reasons = [b.reason for b in store.plan("c", preset, 100)]
        assert len(reasons) == 2 and all(phrase in r for r in reasons), reasons
    store.close()
