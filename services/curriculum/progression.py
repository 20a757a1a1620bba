"""Per-campaign progression: mastered level, training level, accuracy history, level changes; scheduling.

State lives in the curriculum's own SQLite database (WAL). Names follow the product: the *mastered* level is
the highest level passed; the *training* level is mastered + 1 unless overridden. Never "current".

Level-up rule (RecordEval): a skill levels up when the mean accuracy of its last K unflagged evals at the
training level is >= that level's pass threshold. Forward-only: the mastered level never goes down. An eval
that looks broken (0 % accuracy while the training loss is near zero) is stored flagged and not applied.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.curriculum.skills.base import MAX_REVIEW_SHARE
from services.curriculum.skills.registry import SkillRegistry
from services.kit.errors import FailedPrecondition, InvalidArgument

PRESETS = ("equal", "focus", "weighted", "lowest_first", "catch_up", "round_robin")
# Names from the first draft of the contract, kept working: they mean the same as these presets.
PRESET_ALIASES = {"balanced": "equal", "focus_weakest": "lowest_first"}
DEFAULT_BATCH = 256


@dataclass(frozen=True)
class ProgressionConfig:
    # K: how many recent evals at the training level the mean is taken over.
    eval_window: int = 3
    # Optional per-skill threshold overriding every level's own pass threshold.
    thresholds: Mapping[str, float] = field(default_factory=dict)
    # An eval at 0 % accuracy while the training loss is below this looks broken and is flagged.
    broken_loss: float = 0.05
    default_preset: str = "equal"
    # Planned batches above level 1 give this share of their rows to the levels below, so a new level's
    # training does not overwrite the ones already mastered (bench/loop_speed.py: BIN L1 trials 0.87 at minute
    # 10 without review, 0.92-1.0 with it).
    review_share: float = 0.2

    def __post_init__(self) -> None:
        if self.eval_window < 1:
            raise InvalidArgument("must be >= 1", field="curriculum.eval_window")
        for skill, value in self.thresholds.items():
            if not 0.0 < value <= 1.0:
                raise InvalidArgument(f"{skill}: must be within (0, 1]", field="curriculum.thresholds")
        parse_preset(self.default_preset)
        if not 0.0 <= self.review_share <= MAX_REVIEW_SHARE:
            raise InvalidArgument(f"must be within 0..{MAX_REVIEW_SHARE}", field="curriculum.review_share")


@dataclass(frozen=True)
class AccuracyPoint:
    level: int
    accuracy: float
    checkpoint: str
    global_step: int
    time: float
    flagged: bool
    flag_reason: str


@dataclass(frozen=True)
class LevelChange:
    from_level: int
    to_level: int
    time: float
    checkpoint: str
    mean_accuracy: float


@dataclass(frozen=True)
class SkillProgress:
    skill: str
    enabled: bool
    mastered_level: int
    training_level: int
    training_level_overridden: bool
    weight: float
    max_level: int
    accuracy_history: tuple[AccuracyPoint, ...]
    progression: tuple[LevelChange, ...]


@dataclass(frozen=True)
class CampaignProgress:
    campaign: str
    skills: tuple[SkillProgress, ...]
    # The campaign's own scheduling preset ("" = none: the request's or the configured default).
    preset: str = ""


@dataclass(frozen=True)
class SkillSettings:
    skill: str
    enabled: bool = True
    training_level_override: int = 0  # 0 = none
    weight: float = 1.0


@dataclass(frozen=True)
class EvalOutcome:
    progress: SkillProgress
    leveled_up: bool
    flagged: bool
    flag_reason: str
    mean_accuracy: float  # of the window, when the eval counted; else 0


@dataclass(frozen=True)
class PlannedBatch:
    skill: str
    level: int
    count: int
    seed: int
    reason: str
    # Share of the batch's rows drawn from the levels below `level` (see skills.base.review_counts).
    review_share: float = 0.0


_CAMPAIGN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def campaign_id(name: str) -> str:
    """Accepts "campaigns/x" or "x"; returns "x"."""
    short = name.removeprefix("campaigns/")
    if not _CAMPAIGN_RE.match(short):
        raise InvalidArgument(f"bad campaign name {name!r} (letters, digits, . _ -)", field="campaign")
    return short


def parse_preset(preset: str) -> tuple[str, str]:
    """"focus:bin" / "focus(bin)" -> ("focus", "bin"); others take no argument."""
    m = re.fullmatch(r"\s*([a-z_]+)\s*(?:[:(]\s*([A-Za-z0-9_/-]+)\s*\)?)?\s*", preset or "")
    name = PRESET_ALIASES.get(m.group(1), m.group(1)) if m else ""
    if name not in PRESETS:
        raise InvalidArgument(f"unknown preset {preset!r}; known: equal, focus:SKILL, weighted, lowest_first, "
                              "catch_up, round_robin", field="preset")
    arg = (m.group(2) or "").removeprefix("skills/")
    if name == "focus" and not arg:
        raise InvalidArgument("focus needs a skill, e.g. focus:bin", field="preset")
    if name != "focus" and arg:
        raise InvalidArgument(f"{name} takes no argument", field="preset")
    return name, arg


def apportion(total: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split `total` by weight, largest remainder first (ties by name), so the parts always sum to total."""
    positive = {k: w for k, w in weights.items() if w > 0}
    if not positive:
        return {}
    mass = sum(positive.values())
    exact = {k: total * w / mass for k, w in positive.items()}
    parts = {k: int(v) for k, v in exact.items()}
    leftover = total - sum(parts.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - parts[k]), k))[:leftover]:
        parts[k] += 1
    return parts


@dataclass(frozen=True)
class RecordedLevelChange:
    id: int
    campaign: str
    skill: str
    from_level: int
    to_level: int
    time: float
    checkpoint: str
    mean_accuracy: float


_SCHEMA = """
CREATE TABLE IF NOT EXISTS skill_state (
  campaign TEXT NOT NULL, skill TEXT NOT NULL, enabled INTEGER NOT NULL, mastered_level INTEGER NOT NULL,
  training_level_override INTEGER NOT NULL, weight REAL NOT NULL, PRIMARY KEY (campaign, skill));
CREATE TABLE IF NOT EXISTS evals (
  id INTEGER PRIMARY KEY AUTOINCREMENT, campaign TEXT NOT NULL, skill TEXT NOT NULL, level INTEGER NOT NULL,
  accuracy REAL NOT NULL, checkpoint TEXT NOT NULL, global_step INTEGER NOT NULL, time REAL NOT NULL,
  flagged INTEGER NOT NULL, flag_reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS evals_by_skill ON evals (campaign, skill, level, id);
CREATE TABLE IF NOT EXISTS level_changes (
  id INTEGER PRIMARY KEY AUTOINCREMENT, campaign TEXT NOT NULL, skill TEXT NOT NULL, from_level INTEGER NOT NULL,
  to_level INTEGER NOT NULL, time REAL NOT NULL, checkpoint TEXT NOT NULL, mean_accuracy REAL NOT NULL);
CREATE TABLE IF NOT EXISTS plan_counter (campaign TEXT PRIMARY KEY, plans INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS campaign_settings (campaign TEXT PRIMARY KEY, preset TEXT NOT NULL);
"""


class ProgressionStore:
    def __init__(self, path: Path, registry: SkillRegistry, config: ProgressionConfig | None = None,
                 clock=time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self.registry = registry
        self.config = config or ProgressionConfig()
        self._clock = clock

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ reads
    def _rows(self, campaign: str) -> dict[str, tuple[int, int, int, float]]:
        cur = self._db.execute("SELECT skill, enabled, mastered_level, training_level_override, weight "
                               "FROM skill_state WHERE campaign = ?", (campaign,))
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in cur}

    def _skill_progress(self, campaign: str, skill: str, row: tuple[int, int, int, float] | None) -> SkillProgress:
        max_level = len(self.registry.get(skill).levels())
        enabled, mastered, override, weight = row if row else (1, 0, 0, 1.0)
        training = override if override else min(mastered + 1, max_level)
        history = tuple(AccuracyPoint(*r[:5], bool(r[5]), r[6]) for r in self._db.execute(
            "SELECT level, accuracy, checkpoint, global_step, time, flagged, flag_reason FROM evals "
            "WHERE campaign = ? AND skill = ? ORDER BY id", (campaign, skill)))
        changes = tuple(LevelChange(*r) for r in self._db.execute(
            "SELECT from_level, to_level, time, checkpoint, mean_accuracy FROM level_changes "
            "WHERE campaign = ? AND skill = ? ORDER BY id", (campaign, skill)))
        return SkillProgress(skill, bool(enabled), mastered, training, bool(override), weight, max_level,
                             history, changes)

    def progress(self, campaign: str) -> CampaignProgress:
        """A campaign nobody configured yet follows every registered skill from level 1."""
        cid = campaign_id(campaign)
        with self._lock:
            rows = self._rows(cid)
            skills = sorted(rows) if rows else self.registry.names()
            return CampaignProgress(cid, tuple(self._skill_progress(cid, s, rows.get(s)) for s in skills),
                                    self._preset(cid))

    def _preset(self, campaign: str) -> str:
        row = self._db.execute("SELECT preset FROM campaign_settings WHERE campaign = ?", (campaign,)).fetchone()
        return row[0] if row else ""

    def skill_progress(self, campaign: str, skill: str) -> SkillProgress:
        cid = campaign_id(campaign)
        name = self.registry.get(skill).name
        with self._lock:
            return self._skill_progress(cid, name, self._rows(cid).get(name))

    # ------------------------------------------------------------------ writes
    def configure(self, campaign: str, settings: Sequence[SkillSettings], preset: str | None = None
                  ) -> CampaignProgress:
        """Skill settings, and the campaign's scheduling preset (None = keep it, "" = clear it)."""
        cid = campaign_id(campaign)
        if not settings:
            raise InvalidArgument("name at least one skill", field="skills")
        if preset:
            name, arg = parse_preset(preset)
            if name == "focus" and arg.removeprefix("skills/") not in self.registry.names():
                # refused now, not at the next plan
                raise InvalidArgument(f"focus names an unknown skill {arg!r}; known: {', '.join(self.registry.names())}",
                                      field="preset")
        checked = []
        for i, s in enumerate(settings):
            skill = self.registry.get(s.skill)
            top = len(skill.levels())
            if not 0 <= s.training_level_override <= top:
                raise InvalidArgument(f"must be 0 (none) or 1..{top}", field=f"skills[{i}].training_level_override")
            if s.weight < 0:
                raise InvalidArgument("must be >= 0", field=f"skills[{i}].weight")
            checked.append((skill.name, s))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for name, s in checked:
                    self._db.execute(
                        "INSERT INTO skill_state VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (campaign, skill) DO UPDATE "
                        "SET enabled = excluded.enabled, training_level_override = excluded.training_level_override, "
                        "weight = excluded.weight",
                        (cid, name, int(s.enabled), s.training_level_override, s.weight))
                if preset is not None:
                    self._db.execute("INSERT INTO campaign_settings VALUES (?, ?) ON CONFLICT (campaign) DO UPDATE "
                                     "SET preset = excluded.preset", (cid, preset.strip()))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.progress(cid)

    def record_eval(self, campaign: str, skill: str, level: int, accuracy: float, checkpoint: str = "",
                    global_step: int = 0, training_loss: float | None = None) -> EvalOutcome:
        cid = campaign_id(campaign)
        plugin = self.registry.get(skill)
        top = len(plugin.levels())
        if not 1 <= level <= top:
            raise InvalidArgument(f"must be 1..{top}", field="level")
        if not 0.0 <= accuracy <= 1.0 or accuracy != accuracy:
            raise InvalidArgument("must be within 0..1", field="accuracy")
        flag_reason = ""
        if accuracy == 0.0 and training_loss is not None and training_loss < self.config.broken_loss:
            flag_reason = (f"0% accuracy while training loss is {training_loss:.4f} "
                           f"(< {self.config.broken_loss}): the eval looks broken, not applied")
        now = self._clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._rows(cid)
                if plugin.name not in rows:
                    # A campaign records evals for the skills it trains; a first eval enrols the skill.
                    self._db.execute("INSERT INTO skill_state VALUES (?, ?, 1, 0, 0, 1.0)", (cid, plugin.name))
                    rows[plugin.name] = (1, 0, 0, 1.0)
                self._db.execute("INSERT INTO evals (campaign, skill, level, accuracy, checkpoint, global_step, "
                                 "time, flagged, flag_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 (cid, plugin.name, level, accuracy, checkpoint, global_step, now,
                                  int(bool(flag_reason)), flag_reason))
                leveled_up, mean = False, 0.0
                _, mastered, override, _ = rows[plugin.name]
                training = override if override else min(mastered + 1, top)
                if not flag_reason and level == training and level > mastered:
                    window = [r[0] for r in self._db.execute(
                        "SELECT accuracy FROM evals WHERE campaign = ? AND skill = ? AND level = ? AND flagged = 0 "
                        "ORDER BY id DESC LIMIT ?", (cid, plugin.name, level, self.config.eval_window))]
                    mean = sum(window) / len(window)
                    threshold = self.config.thresholds.get(plugin.name,
                                                           plugin.levels()[level - 1].pass_threshold)
                    if len(window) == self.config.eval_window and mean >= threshold:
                        leveled_up = True
                        # An override at or below the new mastered level has served its purpose.
                        new_override = override if override > level else 0
                        self._db.execute("UPDATE skill_state SET mastered_level = ?, training_level_override = ? "
                                         "WHERE campaign = ? AND skill = ?", (level, new_override, cid, plugin.name))
                        self._db.execute("INSERT INTO level_changes (campaign, skill, from_level, to_level, time, "
                                         "checkpoint, mean_accuracy) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                         (cid, plugin.name, mastered, level, now, checkpoint, mean))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            progress = self._skill_progress(cid, plugin.name, self._rows(cid)[plugin.name])
        return EvalOutcome(progress, leveled_up, bool(flag_reason), flag_reason, mean)

    def level_changes_after(self, after_id: int, limit: int = 100) -> list[RecordedLevelChange]:
        """Level changes (every campaign) with id > after_id, oldest first: the LEVEL_UP announcer's feed."""
        with self._lock:
            rows = self._db.execute("SELECT id, campaign, skill, from_level, to_level, time, checkpoint, mean_accuracy"
                                    " FROM level_changes WHERE id > ? ORDER BY id LIMIT ?",
                                    (after_id, limit)).fetchall()
        return [RecordedLevelChange(*r) for r in rows]

    # ------------------------------------------------------------------ scheduling
    def plan(self, campaign: str, preset: str = "", count: int = 0) -> list[PlannedBatch]:
        cid = campaign_id(campaign)
        if count < 0:
            raise InvalidArgument("must be >= 0", field="count")
        count = count or DEFAULT_BATCH
        with self._lock:
            own = self._preset(cid)
        # The campaign's own choice wins over a request's (the hero loop sends the hero-wide idle default).
        name, arg = parse_preset(own or preset or self.config.default_preset)
        progress = self.progress(cid)
        active = [s for s in progress.skills
                  if s.enabled and not (s.mastered_level >= s.max_level and not s.training_level_overridden)]
        if not active:
            raise FailedPrecondition(f"campaign {cid} has no enabled skill left to train", field="campaign")
        by_name = {s.skill: s for s in active}
        if name == "equal":
            weights = {s.skill: 1.0 for s in active}
            why = "equal share of enabled skills"
        elif name == "focus":
            focus = self.registry.get(arg).name
            if focus not in by_name:
                raise FailedPrecondition(f"skill {focus} is not enabled (or fully mastered) in {cid}", field="preset")
            weights = {focus: 1.0}
            why = f"focus on {focus}"
        elif name == "weighted":
            weights = {s.skill: s.weight for s in active}
            if not any(w > 0 for w in weights.values()):
                raise FailedPrecondition("every enabled skill has weight 0", field="preset")
            why = "configured weights"
        elif name == "lowest_first":
            lowest = min(s.mastered_level for s in active)
            weights = {s.skill: 1.0 for s in active if s.mastered_level == lowest}
            why = f"lowest mastered skill level ({lowest}) first"
        elif name == "catch_up":
            top = max(s.mastered_level for s in active)
            gaps = {s.skill: float(top - s.mastered_level) for s in active}
            weights = gaps if any(gaps.values()) else {s.skill: 1.0 for s in active}
            why = f"share by gap to the leading mastered skill level ({top})"
        with self._lock:
            self._db.execute("INSERT INTO plan_counter VALUES (?, 1) ON CONFLICT (campaign) DO UPDATE "
                             "SET plans = plans + 1", (cid,))
            plan_number = self._db.execute("SELECT plans FROM plan_counter WHERE campaign = ?", (cid,)).fetchone()[0]
        if name == "round_robin":
            turn = sorted(by_name)[(plan_number - 1) % len(by_name)]
            weights = {turn: 1.0}
            why = f"one skill per plan, in turn ({turn})"
        parts = apportion(count, weights)
        batches = []
        for skill in sorted(parts):
            if parts[skill] == 0:
                continue
            digest = hashlib.sha256(f"{cid}/{plan_number}/{skill}".encode()).digest()
            seed = int.from_bytes(digest[:6], "big")  # fresh per plan, reproducible from the plan number
            level = by_name[skill].training_level
            review = self.config.review_share if level > 1 else 0.0
            batches.append(PlannedBatch(skill, level, parts[skill], seed,
                                        f"{name}: {why}; plan #{plan_number}", review))
        return batches

