"""Trials: run a checkpoint through the frozen eval sets, grade, store the report, record the result.

The runner talks to inference and the vault through two small ports (implemented over the SDK in
`remote.py`), so this module stays plain Python. Evaluations are resources in the curriculum's SQLite store,
with a state (PENDING → RUNNING → SUCCEEDED/FAILED, or SUPERSEDED) and progress that `watch` follows.

Scheduling (one worker: trials share one inference host, so at most one runs at a time, per campaign too):
- a trial that fails because a peer is unavailable goes back to PENDING with a backoff and is retried
  until it succeeds (`attempts` counts them); other failures (e.g. a CORRUPT checkpoint) stay FAILED;
- a restart resumes PENDING and interrupted (RUNNING) trials; sets already recorded are not re-run;
- checkpoints from the ledger follower coalesce: a new one supersedes the campaign's not-yet-started
  follower trial (SUPERSEDED, its checkpoint labelled trial=superseded in the vault) and inherits `full`;
- follower trials of a campaign start at least `cooldown_s` apart; every `full_eval_every`-th checkpoint
  of a campaign gets a full eval (all levels up to training level + 1).
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from enum import IntEnum
from pathlib import Path
from typing import Any, Protocol

import structlog

from services.curriculum.progression import ProgressionStore, campaign_id
from services.curriculum.skills.base import (
    EvalSet,
    Problem,
    SkillRegistry,
    eval_set,
    rows_to_jsonl,
    sparring_row,
)
from services.kit.errors import InvalidArgument, NotFound

log = structlog.get_logger(__name__)

# Responses may be longer than the reference solution; the budget is generous but bounded.
TOKEN_SLACK, MAX_NEW_TOKENS = 32, 2048


class EvalState(IntEnum):
    PENDING = 1
    RUNNING = 2
    SUCCEEDED = 3
    FAILED = 4
    SUPERSEDED = 5


TRIGGER_CHECKPOINT, TRIGGER_REQUEST = "checkpoint", "request"
# Status codes (by name: no grpc import here) that mean "the peer is down or busy, try again later".
RETRYABLE_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "CANCELLED"})


class PeerUnavailable(Exception):
    """A port could not reach its peer (or the peer could not do the work now): the trial is retried."""


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (PeerUnavailable, ConnectionError, TimeoutError)):
        return True
    code = getattr(exc, "code", None)
    if callable(code):
        try:
            return getattr(code(), "name", "") in RETRYABLE_CODES
        except Exception:  # not a gRPC error after all
            return False
    return False


@dataclass(frozen=True)
class SparringConfig:
    enabled: bool = True
    share: float = 0.5  # fraction of a trial's wrong answers (at the training level) turned into rows
    max_rows: int = 200

    @classmethod
    def from_section(cls, raw: Any) -> SparringConfig:
        raw = raw or {}
        if not isinstance(raw, Mapping):
            raise InvalidArgument("must be a mapping {enabled, share, max_rows}", field="curriculum.sparring")
        share, max_rows = float(raw.get("share", 0.5)), int(raw.get("max_rows", 200))
        if not 0.0 <= share <= 1.0:
            raise InvalidArgument("must be within 0..1", field="curriculum.sparring.share")
        if max_rows < 0:
            raise InvalidArgument("must be >= 0", field="curriculum.sparring.max_rows")
        return cls(bool(raw.get("enabled", True)), share, max_rows)


@dataclass(frozen=True)
class TrialPolicy:
    cooldown_s: float = 10.0  # minimum interval between follower trial starts, per campaign
    retry_initial_s: float = 2.0  # first backoff after a retryable failure; doubles per attempt
    retry_max_s: float = 60.0
    full_eval_every: int = 5  # every K-th checkpoint of a campaign gets a full eval; 0 = never
    sparring: SparringConfig = field(default_factory=SparringConfig)

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> TrialPolicy:
        policy = cls(float(section.get("trial_cooldown_s", 10.0)), float(section.get("trial_retry_initial_s", 2.0)),
                     float(section.get("trial_retry_max_s", 60.0)), int(section.get("full_eval_every", 5)),
                     SparringConfig.from_section(section.get("sparring")))
        for name in ("cooldown_s", "retry_initial_s", "retry_max_s", "full_eval_every"):
            if getattr(policy, name) < 0:
                key = "full_eval_every" if name == "full_eval_every" else f"trial_{name}"
                raise InvalidArgument("must be >= 0", field=f"curriculum.{key}")
        return policy

    def backoff(self, attempts: int) -> float:
        return min(self.retry_initial_s * 2 ** max(attempts - 1, 0), self.retry_max_s)


@dataclass(frozen=True)
class LoadedModel:
    name: str  # what to chat with
    asset: str  # the vault asset the checkpoint (or alias) resolved to


class InferencePort(Protocol):
    def load(self, checkpoint: str) -> LoadedModel:
        """Load the checkpoint, blocking until it is ready."""
        ...

    def chat(self, model: str, messages: Sequence[Mapping[str, str]], max_new_tokens: int) -> str:
        """Greedy reply to a conversation."""
        ...


class VaultPort(Protocol):
    def lineage(self, asset: str) -> tuple[float | None, int]:
        """(latest training loss if recorded, global step) of a checkpoint asset."""
        ...

    def store_report(self, campaign: str, checkpoint: str, skill: str, level: int, report: Mapping[str, Any]) -> str:
        """Upload the report as an eval-report asset; return its name."""
        ...

    def attach_eval(self, checkpoint: str, result: SkillResult, campaign: str) -> None: ...

    def move_best(self, campaign: str, skill: str, checkpoint: str, score: float) -> bool:
        """Point campaigns/{campaign}/aliases/best/{skill} at the checkpoint if its score is higher."""
        ...

    def follow_checkpoints(self, after_sequence: int) -> CheckpointStream:
        """New checkpoints as the vault registers them, from after `after_sequence`, until cancelled."""
        ...

    def mark_superseded(self, asset: str, superseded_by: str) -> None:
        """Label the checkpoint trial=superseded (its trial was skipped for a newer checkpoint)."""
        ...

    def append_level_up(self, change: LevelUp) -> None:
        """Append a LEVEL_UP ledger event, idempotent per (campaign, skill, to_level)."""
        ...


class TrainerPort(Protocol):
    def submit_correction(self, campaign: str, skill: str, level: int, jsonl: bytes, display_name: str) -> str:
        """Submit a high-priority chat_sft_v1 correction quest (source "sparring"); return the quest name."""
        ...


@dataclass(frozen=True)
class LevelUp:
    campaign: str
    skill: str
    from_level: int
    to_level: int
    checkpoint: str
    mean_accuracy: float


@dataclass(frozen=True)
class RegisteredCheckpoint:
    sequence: int
    asset: str
    campaign: str
    time: float


class CheckpointStream(Protocol):
    def __iter__(self) -> Iterator[RegisteredCheckpoint]: ...

    def cancel(self) -> None: ...


@dataclass(frozen=True)
class SkillResult:
    skill: str
    level: int
    accuracy: float
    correct: int
    total: int
    regime: str
    report_asset: str
    eval_set_hash: str
    mean_partial_score: float


@dataclass(frozen=True)
class Evaluation:
    name: str
    campaign: str
    checkpoint: str
    skills: tuple[str, ...]
    full: bool
    state: EvalState
    results: tuple[SkillResult, ...] = ()
    error: str = ""
    attempts: int = 0
    problems_done: int = 0
    problems_total: int = 0
    create_time: float = 0.0
    end_time: float = 0.0
    trigger: str = TRIGGER_REQUEST
    next_attempt_time: float = 0.0
    superseded_by: str = ""
    start_time: float = 0.0
    sparring_quest: str = ""
    # The eval sets, frozen at the first attempt so a retry runs the same ones: (skill, level, is_training).
    plan: tuple[tuple[str, int, bool], ...] = ()
    version: int = field(default=0, compare=False)

    @property
    def finished(self) -> bool:
        return self.state in (EvalState.SUCCEEDED, EvalState.FAILED, EvalState.SUPERSEDED)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluations (
  name TEXT PRIMARY KEY, campaign TEXT NOT NULL, checkpoint TEXT NOT NULL, skills TEXT NOT NULL,
  full INTEGER NOT NULL, state INTEGER NOT NULL, results TEXT NOT NULL, error TEXT NOT NULL,
  attempts INTEGER NOT NULL, problems_done INTEGER NOT NULL, problems_total INTEGER NOT NULL,
  create_time REAL NOT NULL, end_time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS evaluations_by_time ON evaluations (create_time, name);
CREATE TABLE IF NOT EXISTS ledger_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), sequence INTEGER NOT NULL,
  since_time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS campaign_checkpoints (campaign TEXT PRIMARY KEY, seen INTEGER NOT NULL);
-- Effects on peers, delivered (with retries) by services.curriculum.deliveries: kind superseded | sparring.
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
  key TEXT NOT NULL UNIQUE, payload TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS level_up_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), change_id INTEGER NOT NULL);
"""
# Columns added after the first release (ALTER TABLE keeps existing databases).
_ADDED_COLUMNS = (("trigger", "TEXT NOT NULL DEFAULT 'request'"), ("next_attempt_time", "REAL NOT NULL DEFAULT 0"),
                  ("superseded_by", "TEXT NOT NULL DEFAULT ''"), ("start_time", "REAL NOT NULL DEFAULT 0"),
                  ("sparring_quest", "TEXT NOT NULL DEFAULT ''"), ("plan", "TEXT NOT NULL DEFAULT '[]'"))
_COLUMNS = ("name, campaign, checkpoint, skills, full, state, results, error, attempts, problems_done, "
            "problems_total, create_time, end_time, trigger, next_attempt_time, superseded_by, start_time, "
            "sparring_quest, plan")


class EvaluationRunner:
    def __init__(self, path: Path, registry: SkillRegistry, progression: ProgressionStore,
                 inference: InferencePort, vault: VaultPort, concurrency: int = 8,
                 policy: TrialPolicy | None = None, sparring_enabled: bool = False, clock=time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        present = {r[1] for r in self._db.execute("PRAGMA table_info(evaluations)")}
        for column, spec in _ADDED_COLUMNS:
            if column not in present:
                self._db.execute(f"ALTER TABLE evaluations ADD COLUMN {column} {spec}")
        self.registry = registry
        self.progression = progression
        self.inference = inference
        self.vault = vault
        self.concurrency = concurrency
        self.policy = policy or TrialPolicy()
        # Sparring needs a trainer to send the quests to; app.py turns it on only when one is configured.
        self.sparring_enabled = sparring_enabled and self.policy.sparring.enabled
        self._clock = clock
        self._changed = threading.Condition()
        self._versions: dict[str, int] = {}
        self._callbacks: dict[str, Callable[[Evaluation], None]] = {}
        self._closed = False
        self.outbox_listeners: list[Callable[[], None]] = []  # woken when an effect is queued
        self._resume_after_restart()
        self._worker = threading.Thread(target=self._work, name="evaluation", daemon=True)
        self._worker.start()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._worker.join(60)
        with self._changed:
            self._db.close()

    # ------------------------------------------------------------------ store
    def _resume_after_restart(self) -> None:
        """Trials a restart interrupted run again (attempts keep counting); PENDING ones simply wait."""
        self._db.execute("UPDATE evaluations SET state = ?, error = ?, next_attempt_time = 0 WHERE state = ?",
                         (int(EvalState.PENDING), "interrupted: the curriculum service restarted",
                          int(EvalState.RUNNING)))

    def _save(self, ev: Evaluation) -> Evaluation:
        with self._changed:
            # sparring_quest belongs to set_sparring_quest (the deliveries thread): an update never resets it.
            self._db.execute(
                f"INSERT INTO evaluations ({_COLUMNS}) VALUES ({', '.join('?' * 19)}) ON CONFLICT(name) DO UPDATE "
                f"SET {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS.split(', ') if c != 'sparring_quest')}",
                (ev.name, ev.campaign, ev.checkpoint, json.dumps(list(ev.skills)), int(ev.full), int(ev.state),
                 json.dumps([asdict(r) for r in ev.results]), ev.error, ev.attempts, ev.problems_done,
                 ev.problems_total, ev.create_time, ev.end_time, ev.trigger, ev.next_attempt_time,
                 ev.superseded_by, ev.start_time, ev.sparring_quest, json.dumps([list(p) for p in ev.plan])))
            self._versions[ev.name] = self._versions.get(ev.name, 0) + 1
            self._changed.notify_all()
        return replace(ev, version=self._versions[ev.name])

    def _from_row(self, row) -> Evaluation:
        return Evaluation(row[0], row[1], row[2], tuple(json.loads(row[3])), bool(row[4]), EvalState(row[5]),
                          tuple(SkillResult(**r) for r in json.loads(row[6])), row[7], row[8], row[9], row[10],
                          row[11], row[12], row[13], row[14], row[15], row[16], row[17],
                          tuple((str(p[0]), int(p[1]), bool(p[2])) for p in json.loads(row[18])),
                          self._versions.get(row[0], 0))

    def get(self, name: str) -> Evaluation:
        with self._changed:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM evaluations WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no evaluation {name!r}", field="name")
        return self._from_row(row)

    def list(self, campaign: str = "") -> list[Evaluation]:
        with self._changed:
            if campaign:
                rows = self._db.execute(f"SELECT {_COLUMNS} FROM evaluations WHERE campaign = ? ORDER BY "
                                        "create_time DESC, name", (campaign_id(campaign),)).fetchall()
            else:
                rows = self._db.execute(f"SELECT {_COLUMNS} FROM evaluations ORDER BY create_time DESC, "
                                        "name").fetchall()
        return [self._from_row(r) for r in rows]

    def wait_for_change(self, name: str, seen_version: int, timeout: float) -> Evaluation:
        """Block until the evaluation's version passes `seen_version` (or timeout); return it."""
        with self._changed:
            self._changed.wait_for(lambda: self._versions.get(name, 0) > seen_version or self._closed, timeout)
        return self.get(name)

    def _queue_effect(self, kind: str, key: str, payload: Mapping[str, Any]) -> None:
        with self._changed:
            self._db.execute("INSERT OR IGNORE INTO outbox (kind, key, payload) VALUES (?, ?, ?)",
                             (kind, key, json.dumps(payload, ensure_ascii=False)))
        for listener in self.outbox_listeners:
            listener()

    # ------------------------------------------------------------------ start
    def _skills(self, cid: str, skills: Sequence[str]) -> list[str]:
        progress = self.progression.progress(cid)
        if skills:
            chosen = [self.registry.get(s).name for s in skills]
        else:
            chosen = [s.skill for s in progress.skills if s.enabled]
        if not chosen:
            raise InvalidArgument(f"campaign {cid} has no enabled skill to evaluate", field="skills")
        return chosen

    def start(self, campaign: str, checkpoint: str, skills: Sequence[str] = (), full: bool = False,
              on_done: Callable[[Evaluation], None] | None = None) -> Evaluation:
        """An explicit request (EvaluateCheckpoint): queued as is, never coalesced, no cooldown."""
        cid = campaign_id(campaign)
        if not checkpoint:
            raise InvalidArgument("name the checkpoint asset (assets/…) or an alias", field="checkpoint")
        chosen = self._skills(cid, skills)
        ev = Evaluation(f"evaluations/{uuid.uuid4().hex[:16]}", cid, checkpoint, tuple(chosen), full,
                        EvalState.PENDING, create_time=self._clock())
        with self._changed:
            if on_done is not None:
                self._callbacks[ev.name] = on_done
            return self._save(ev)

    def enqueue_checkpoint(self, campaign: str, checkpoint: str) -> Evaluation:
        """A checkpoint the ledger follower saw: one pending trial per campaign, for its newest checkpoint.

        Idempotent per checkpoint (the follower may see one again after a crash)."""
        cid = campaign_id(campaign)
        chosen = self._skills(cid, ())
        superseded: list[Evaluation] = []
        with self._changed:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM evaluations WHERE trigger = ? AND checkpoint = ? "
                                   "AND campaign = ?", (TRIGGER_CHECKPOINT, checkpoint, cid)).fetchone()
            if row is not None:
                return self._from_row(row)
            seen = self._db.execute("SELECT seen FROM campaign_checkpoints WHERE campaign = ?", (cid,)).fetchone()
            count = (seen[0] if seen else 0) + 1
            self._db.execute("INSERT OR REPLACE INTO campaign_checkpoints VALUES (?, ?)", (cid, count))
            every = self.policy.full_eval_every
            full = every > 0 and count % every == 0
            pending = [self._from_row(r) for r in self._db.execute(
                f"SELECT {_COLUMNS} FROM evaluations WHERE campaign = ? AND trigger = ? AND state = ?",
                (cid, TRIGGER_CHECKPOINT, int(EvalState.PENDING)))]
            now = self._clock()
            ev = Evaluation(f"evaluations/{uuid.uuid4().hex[:16]}", cid, checkpoint, tuple(chosen),
                            full or any(p.full for p in pending), EvalState.PENDING, create_time=now,
                            trigger=TRIGGER_CHECKPOINT)
            ev = self._save(ev)
            for old in pending:
                superseded.append(self._save(replace(old, state=EvalState.SUPERSEDED, superseded_by=ev.name,
                                                     end_time=now)))
        for old in superseded:
            log.info("trial superseded", evaluation=old.name, checkpoint=old.checkpoint, by=ev.checkpoint)
            self._queue_effect("superseded", f"superseded/{old.checkpoint}",
                               {"asset": old.checkpoint, "superseded_by": ev.checkpoint, "campaign": cid})
        return ev

    # ------------------------------------------------------------------ scheduling
    def _pick(self, now: float) -> tuple[Evaluation | None, float | None]:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM evaluations WHERE state = ? ORDER BY create_time, name",
                                (int(EvalState.PENDING),)).fetchall()
        last_start = dict(self._db.execute("SELECT campaign, MAX(start_time) FROM evaluations WHERE trigger = ? "
                                           "AND start_time > 0 GROUP BY campaign", (TRIGGER_CHECKPOINT,)))
        return next_due([self._from_row(r) for r in rows], last_start, now, self.policy.cooldown_s)

    def _work(self) -> None:
        while True:
            with self._changed:
                if self._closed:
                    return
                now = self._clock()
                try:
                    ev, wake_at = self._pick(now)
                except sqlite3.Error:  # e.g. the disk is full: keep the worker alive and look again
                    log.exception("cannot read pending evaluations")
                    self._changed.wait(5.0)
                    continue
                if ev is None:
                    # Woken by any save (a new trial) or when the earliest backoff / cooldown ends.
                    self._changed.wait(min(max(wake_at - now, 0.01), 5.0) if wake_at is not None else 5.0)
                    continue
                ev = self._save(replace(ev, state=EvalState.RUNNING, attempts=ev.attempts + 1, start_time=now,
                                        next_attempt_time=0.0))
            try:
                self._run(ev)
            except Exception:  # the worker must survive anything; _run records failures itself
                log.exception("evaluation worker error", evaluation=ev.name)

    # ------------------------------------------------------------------ run
    def _plan(self, ev: Evaluation) -> tuple[tuple[str, int, bool], ...]:
        """The eval sets to run: each skill's training level (with `full`: every level up to it + 1)."""
        plan = []
        for name in ev.skills:
            skill = self.registry.get(name)
            sp = self.progression.skill_progress(ev.campaign, name)
            levels = range(1, min(sp.training_level + 1, sp.max_level) + 1) if ev.full else [sp.training_level]
            plan += [(skill.name, level, level == sp.training_level) for level in levels]
        return tuple(plan)

    def _run(self, ev: Evaluation) -> None:
        try:
            if not ev.plan:
                plan = self._plan(ev)
                total = sum(len(eval_set(self.registry.get(s), lvl).problems) for s, lvl, _ in plan)
                ev = self._save(replace(ev, plan=plan, problems_total=total))
            done = {(r.skill, r.level) for r in ev.results}
            ev = self._save(replace(ev, problems_done=sum(r.total for r in ev.results)))
            model = self.inference.load(ev.checkpoint)
            loss, step = self.vault.lineage(model.asset)
            graded = []
            for skill_name, level, training in ev.plan:
                if (skill_name, level) in done:
                    continue  # recorded by an earlier attempt
                es = eval_set(self.registry.get(skill_name), level)
                result, ev, wrong = self._run_set(ev, es, model.name, model.asset)
                graded.append((es, training, result, wrong))
            # Evals are attached only once every set is graded: an evaluated checkpoint may be removed by the
            # vault's retention, which must not happen half-way through a (full) trial.
            for es, training, result, wrong in graded:
                # Peers first, the local record last: a retry after a peer failure never records twice.
                self.vault.attach_eval(model.asset, result, ev.campaign)
                if training:
                    # best/<skill> ranks checkpoints by how far up the curriculum they are: (level - 1) + accuracy.
                    self.vault.move_best(ev.campaign, es.skill, model.asset, es.level - 1 + result.accuracy)
                self.progression.record_eval(ev.campaign, es.skill, es.level, result.accuracy, model.asset,
                                             step, loss)
                ev = self._save(replace(ev, results=(*ev.results, result)))
                if training and wrong and self.sparring_enabled:
                    self._queue_sparring(ev, es, wrong)
            ev = self._save(replace(ev, state=EvalState.SUCCEEDED, end_time=self._clock(), error=""))
        except Exception as exc:  # a failed trial is a state of the resource, with its reason
            reason = describe_error(exc)
            if self._closed:
                ev = self._save(replace(ev, state=EvalState.PENDING, error="interrupted: shutting down"))
                return
            if is_retryable(exc):
                delay = self.policy.backoff(ev.attempts)
                log.warning("evaluation will be retried", evaluation=ev.name, error=reason, attempts=ev.attempts,
                            retry_in_s=delay)
                ev = self._save(replace(ev, state=EvalState.PENDING, error=reason,
                                        next_attempt_time=self._clock() + delay))
                return
            log.warning("evaluation failed", evaluation=ev.name, error=reason)
            ev = self._save(replace(ev, state=EvalState.FAILED, error=reason, end_time=self._clock()))
        with self._changed:
            on_done = self._callbacks.pop(ev.name, None)
        if on_done is not None:
            on_done(ev)

    def _queue_sparring(self, ev: Evaluation, es: EvalSet, wrong: list[tuple[Problem, str]]) -> None:
        """A share of the wrong answers become a correction quest for the trainer (sent by Deliveries)."""
        config = self.policy.sparring
        count = min(math.ceil(config.share * len(wrong)), config.max_rows)
        if count <= 0:
            return
        chosen = random.Random(f"{ev.name}/{es.skill}/{es.level}").sample(wrong, count)
        chosen.sort(key=lambda item: item[0].id)
        rows = [sparring_row(problem, response) for problem, response in chosen]
        self._queue_effect("sparring", f"sparring/{ev.name}/{es.skill}/{es.level}", {
            "evaluation": ev.name, "campaign": ev.campaign, "checkpoint": ev.checkpoint, "skill": es.skill,
            "level": es.level, "rows": len(rows), "jsonl": rows_to_jsonl(rows).decode("utf-8")})

    def set_sparring_quest(self, name: str, quest: str) -> None:
        with self._changed:
            self._db.execute("UPDATE evaluations SET sparring_quest = ? WHERE name = ?", (quest, name))
            self._versions[name] = self._versions.get(name, 0) + 1
            self._changed.notify_all()

    def _run_set(self, ev: Evaluation, es: EvalSet, model: str, asset: str
                 ) -> tuple[SkillResult, Evaluation, list[tuple[Problem, str]]]:
        skill = self.registry.get(es.skill)
        items: list[dict[str, Any]] = []
        wrong: list[tuple[Problem, str]] = []

        def one(problem):
            if self._closed:
                raise RuntimeError("the curriculum service is shutting down")
            messages = [m.to_dict() for m in problem.prompt]
            budget = min(MAX_NEW_TOKENS, len(problem.solution) + TOKEN_SLACK)
            response = self.inference.chat(model, messages, budget)
            outcome = skill.grade(problem, response)
            return problem, response, outcome

        done = ev.problems_done
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="eval-chat") as pool:
            for problem, response, outcome in pool.map(one, es.problems):
                items.append({"id": problem.id, "prompt": problem.prompt[-1].content, "expected": problem.expected,
                              "response": response, "correct": outcome.correct,
                              "partial_score": outcome.partial_score, "parsed_answer": outcome.parsed_answer,
                              "reason": outcome.reason})
                if not outcome.correct:
                    wrong.append((problem, response))
                done += 1
                ev = self._save(replace(ev, problems_done=done))
        correct = sum(i["correct"] for i in items)
        total = len(items)
        accuracy = correct / total
        mean_partial = sum(i["partial_score"] for i in items) / total
        report = {"evaluation": ev.name, "campaign": ev.campaign, "checkpoint": asset, "skill": es.skill,
                  "level": es.level, "regime": es.regime.value, "eval_set": es.name, "eval_set_version": es.version,
                  "eval_set_hash": es.content_hash, "accuracy": accuracy, "correct": correct, "total": total,
                  "mean_partial_score": mean_partial, "decoding": "greedy", "items": items}
        report_asset = self.vault.store_report(ev.campaign, asset, es.skill, es.level, report)
        return SkillResult(es.skill, es.level, accuracy, correct, total, es.regime.value, report_asset,
                           es.content_hash, mean_partial), ev, wrong


def next_due(pending: Sequence[Evaluation], last_start: Mapping[str, float], now: float,
             cooldown_s: float) -> tuple[Evaluation | None, float | None]:
    """The PENDING evaluation to start now (oldest first), or (None, when to look again).

    A retried trial waits for its backoff; a follower trial also waits until `cooldown_s` after the last
    follower trial of its campaign started."""
    wake_at: float | None = None
    for ev in sorted(pending, key=lambda e: (e.create_time, e.name)):
        due = ev.next_attempt_time
        if ev.trigger == TRIGGER_CHECKPOINT and cooldown_s > 0 and ev.campaign in last_start:
            due = max(due, last_start[ev.campaign] + cooldown_s)
        if due <= now:
            return ev, None
        wake_at = due if wake_at is None else min(wake_at, due)
    return None, wake_at


def describe_error(exc: Exception) -> str:
    details = getattr(exc, "details", None)
    if callable(details):  # a gRPC error from a peer service: its status and message
        code = exc.code() if callable(getattr(exc, "code", None)) else None
        return f"{getattr(code, 'name', 'RPC')}: {details()}"
    return str(exc) or type(exc).__name__


class CheckpointFollower:
    """Starts a trial for every checkpoint the vault registers for a campaign (flow 4, "Trial").

    The ledger position is kept in the evaluations database, so a restart neither repeats nor misses a
    checkpoint; on the very first start, only checkpoints registered from then on are followed.
    """

    def __init__(self, runner: EvaluationRunner, vault: VaultPort, clock=time.time,
                 max_backoff_seconds: float = 30.0) -> None:
        self.runner = runner
        self.vault = vault
        self._clock = clock
        self._max_backoff = max_backoff_seconds
        self._stop = threading.Event()
        self._stream: CheckpointStream | None = None
        self._thread = threading.Thread(target=self._loop, name="checkpoint-follower", daemon=True)
        self.started: list[str] = []  # evaluation names, for observability

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.cancel()
        self._thread.join(10)

    def _cursor(self) -> tuple[int, float]:
        db = self.runner._db
        with self.runner._changed:
            row = db.execute("SELECT sequence, since_time FROM ledger_cursor WHERE id = 1").fetchone()
            if row is None:
                row = (0, self._clock())
                db.execute("INSERT INTO ledger_cursor VALUES (1, ?, ?)", row)
        return int(row[0]), float(row[1])

    def _advance(self, sequence: int) -> None:
        with self.runner._changed:
            self.runner._db.execute("UPDATE ledger_cursor SET sequence = ? WHERE id = 1", (sequence,))

    def _loop(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                sequence, since = self._cursor()
                self._stream = self.vault.follow_checkpoints(sequence)
                if self._stop.is_set():  # closed while connecting: close() may have missed this stream
                    self._stream.cancel()
                    return
                for event in self._stream:
                    backoff = 1.0
                    if self._stop.is_set():
                        return
                    if event.campaign and event.time >= since:
                        self._trial(event)
                    self._advance(event.sequence)
            except Exception as exc:  # the vault is down or restarting: retry with backoff
                if self._stop.is_set():
                    return
                log.info("waiting for the vault ledger", error=describe_error(exc), retry_in_s=backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    def _trial(self, event: RegisteredCheckpoint) -> None:
        try:
            ev = self.runner.enqueue_checkpoint(event.campaign, event.asset)
        except (InvalidArgument, NotFound) as exc:  # e.g. a campaign with no enabled skill
            log.info("no trial for checkpoint", asset=event.asset, reason=str(exc))
            return
        self.started.append(ev.name)
        log.info("trial queued", evaluation=ev.name, asset=event.asset, campaign=event.campaign)
