"""The hero's level/XP view of a campaign, and the hero's level-ups as XP accrues.

XP = trained tokens, as the worker counts them: non-padding tokens of the sequences trained on (prompt and
response; padding never counts).
Levels double in cost: level L starts at XP_BASE * (2**(L-1) - 1), so level 1 is 0 XP, level 2 is 10k,
level 3 is 30k, level 4 is 70k, ... (level 11 is ~10M XP).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from services.trainer.campaigns import CampaignBook
from services.trainer.events import EventLog
from services.trainer.models import EventKind, Milestone, QuestState
from services.trainer.quests import QuestQueue

XP_BASE = 10_000
XP_DEFINITION = (
    "1 XP = 1 trained token (a non-padding token of a sequence the hero trained on; padding never counts); "
    f"level L starts at {XP_BASE:,} x (2^(L-1) - 1) XP"
)


def xp_for_level(level: int) -> int:
    return XP_BASE * (2 ** (level - 1) - 1)


def level_for_xp(xp: int) -> int:
    level = 1
    while xp >= xp_for_level(level + 1):
        level += 1
    return level


@dataclass(frozen=True)
class HeroProgress:
    campaign: str
    level: int
    xp: int
    xp_for_next_level: int
    xp_definition: str
    global_step: int
    trained_tokens: int
    quests_completed: int


def hero_progress(campaigns: CampaignBook, queue: QuestQueue, campaign_name: str) -> HeroProgress:
    campaign = campaigns.get(campaign_name)
    xp = campaign.trained_tokens
    level = level_for_xp(xp)
    return HeroProgress(
        campaign=campaign.name,
        level=level,
        xp=xp,
        xp_for_next_level=xp_for_level(level + 1),
        xp_definition=XP_DEFINITION,
        global_step=campaign.global_step,
        trained_tokens=campaign.trained_tokens,
        quests_completed=queue.count(campaign=campaign.name, states={QuestState.COMPLETED}),
    )


def award_xp(campaigns: CampaignBook, events: EventLog, *, campaign: str, quest: str, global_step: int,
             trained_tokens: int) -> int | None:
    """Record a step's campaign totals (they only move forward); when the XP crosses a level threshold, add a
    milestone and publish LEVEL_UP (scope "hero": the hero's level from XP, not a skill's). Returns the hero's new level, or None when it did not change."""
    before = campaigns.get(campaign).trained_tokens
    campaigns.record_progress(campaign, global_step=global_step, trained_tokens=trained_tokens)
    after = campaigns.get(campaign).trained_tokens
    old_level, new_level = level_for_xp(before), level_for_xp(after)
    if new_level <= old_level:
        return None
    campaigns.add_milestone(campaign, Milestone(
        title=f"Hero level {new_level}", description=f"{after:,} XP (trained tokens)", reach_time=time.time(),
        global_step=global_step))
    events.publish(EventKind.LEVEL_UP, campaign=campaign, quest=quest, message=f"the hero reached level {new_level}",
                   attributes={"scope": "hero", "level": str(new_level), "xp": str(after)})
    return new_level
