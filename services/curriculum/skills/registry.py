"""The skills this curriculum serves, by name. Adding a skill: a module under skills/ that implements
`base.Skill`, then one line in `default_registry`. base.py imports no skill, so skills depend on base only."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from services.curriculum.skills.base import Skill
from services.curriculum.skills.bin import BinSkill
from services.curriculum.skills.syllo import SylloSkill
from services.kit.errors import NotFound


class SkillRegistry:
    def __init__(self, skills: Sequence[Skill]) -> None:
        self._skills = {s.name: s for s in skills}

    def names(self) -> list[str]:
        return sorted(self._skills)

    def all(self) -> list[Skill]:
        return [self._skills[n] for n in self.names()]

    def get(self, name: str) -> Skill:
        short = name.removeprefix("skills/")
        if short not in self._skills:
            raise NotFound(f"unknown skill {name!r}; known: {', '.join(self.names())}", field="skill")
        return self._skills[short]


@lru_cache(maxsize=1)
def default_registry() -> SkillRegistry:
    return SkillRegistry([BinSkill(), SylloSkill()])
