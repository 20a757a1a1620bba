"""Trials: run a checkpoint through the frozen eval sets, grade, store the report, record the result.

The runner talks to inference and the vault through two small ports (implemented over the SDK in
`remote.py`), so this module stays plain Python. Evaluations are resources in the curriculum's SQLite store,
with a state (PENDING → RUNNING → SUCCEEDED/FAILED) and progress that `watch` follows.
"""

from __future__ import annotations

import json
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
from services.curriculum.skills.base import EvalSet, SkillRegistry, eval_set
from services.kit.errors import InvalidArgument, NotFound

log = structlog.get_logger(__name__)

# Responses may be longer than the reference solution; the budget is generous but bounded.
TOKEN_SLACK, MAX_NEW_TOKENS = 32, 2048


class EvalState(IntEnum):
    PENDING = 1
    RUNNING = 2
    SUCCEEDED = 3
    FAILED = 4


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
    version: int = field(default=0, compare=False)

    @property
    def finished(self) -> bool:
        return self.state in (EvalState.SUCCEEDED, EvalState.FAILED)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluations (
  name TEXT PRIMARY KEY, campaign TEXT NOT NULL, checkpoint TEXT NOT NULL, skills TEXT NOT NULL,
  full INTEGER NOT NULL, state INTEGER NOT NULL, results TEXT NOT NULL, error TEXT NOT NULL,
  attempts INTEGER NOT NULL, problems_done INTEGER NOT NULL, problems_total INTEGER NOT NULL,
  create_time REAL NOT NULL, end_time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS evaluations_by_time ON evaluations (create_time, name);
CREATE TABLE IF NOT EXISTS ledger_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), sequence INTEGER NOT NULL,
  since_time REAL NOT NULL);
"""


class EvaluationRunner:
    def __init__(self, path: Path, registry: SkillRegistry, progression: ProgressionStore,
                 inference: InferencePort, vault: VaultPort, concurrency: int = 8) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self.registry = registry
        self.progression = progression
        self.inference = inference
        self.vault = vault
        self.concurrency = concurrency
        self._changed = threading.Condition()
        self._versions: dict[str, int] = {}
        # One evaluation at a time: they share one inference host.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evaluation")
        self._closed = False
        self._interrupted_by_restart()

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._changed:
            self._changed.notify_all()
        self._db.close()

    # ------------------------------------------------------------------ store
    def _interrupted_by_restart(self) -> None:
        self._db.execute("UPDATE evaluations SET state = ?, error = ?, end_time = ? WHERE state IN (?, ?)",
                         (int(EvalState.FAILED), "interrupted: the curriculum service restarted", time.time(),
                          int(EvalState.PENDING), int(EvalState.RUNNING)))

    def _save(self, ev: Evaluation) -> Evaluation:
        with self._changed:
            self._db.execute(
                "INSERT OR REPLACE INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ev.name, ev.campaign, ev.checkpoint, json.dumps(list(ev.skills)), int(ev.full), int(ev.state),
                 json.dumps([asdict(r) for r in ev.results]), ev.error, ev.attempts, ev.problems_done,
                 ev.problems_total, ev.create_time, ev.end_time))
            self._versions[ev.name] = self._versions.get(ev.name, 0) + 1
            self._changed.notify_all()
        return replace(ev, version=self._versions[ev.name])

    def _from_row(self, row) -> Evaluation:
        return Evaluation(row[0], row[1], row[2], tuple(json.loads(row[3])), bool(row[4]), EvalState(row[5]),
                          tuple(SkillResult(**r) for r in json.loads(row[6])), row[7], row[8], row[9], row[10],
                          row[11], row[12], self._versions.get(row[0], 0))

    def get(self, name: str) -> Evaluation:
        with self._changed:
            row = self._db.execute("SELECT * FROM evaluations WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no evaluation {name!r}", field="name")
        return self._from_row(row)

    def list(self, campaign: str = "") -> list[Evaluation]:
        with self._changed:
            if campaign:
                rows = self._db.execute("SELECT * FROM evaluations WHERE campaign = ? ORDER BY create_time DESC, "
                                        "name", (campaign_id(campaign),)).fetchall()
            else:
                rows = self._db.execute("SELECT * FROM evaluations ORDER BY create_time DESC, name").fetchall()
        return [self._from_row(r) for r in rows]

    def wait_for_change(self, name: str, seen_version: int, timeout: float) -> Evaluation:
        """Block until the evaluation's version passes `seen_version` (or timeout); return it."""
        with self._changed:
            self._changed.wait_for(lambda: self._versions.get(name, 0) > seen_version or self._closed, timeout)
        return self.get(name)

    # ------------------------------------------------------------------ start
    def start(self, campaign: str, checkpoint: str, skills: Sequence[str] = (), full: bool = False,
              on_done: Callable[[Evaluation], None] | None = None) -> Evaluation:
        cid = campaign_id(campaign)
        if not checkpoint:
            raise InvalidArgument("name the checkpoint asset (assets/…) or an alias", field="checkpoint")
        progress = self.progression.progress(cid)
        if skills:
            chosen = [self.registry.get(s).name for s in skills]
        else:
            chosen = [s.skill for s in progress.skills if s.enabled]
        if not chosen:
            raise InvalidArgument(f"campaign {cid} has no enabled skill to evaluate", field="skills")
        ev = Evaluation(f"evaluations/{uuid.uuid4().hex[:16]}", cid, checkpoint, tuple(chosen), full,
                        EvalState.PENDING, create_time=time.time())
        ev = self._save(ev)
        self._executor.submit(self._run, ev, on_done)
        return ev

    def _eval_sets(self, ev: Evaluation) -> tuple[list[EvalSet], set[tuple[str, int]]]:
        """The eval sets to run, and which (skill, level) pairs are training levels right now."""
        sets, training = [], set()
        for name in ev.skills:
            skill = self.registry.get(name)
            sp = self.progression.skill_progress(ev.campaign, name)
            levels = range(1, min(sp.training_level + 1, sp.max_level) + 1) if ev.full else [sp.training_level]
            sets.extend(eval_set(skill, level) for level in levels)
            training.add((skill.name, sp.training_level))
        return sets, training

    # ------------------------------------------------------------------ run
    def _run(self, ev: Evaluation, on_done: Callable[[Evaluation], None] | None) -> None:
        try:
            ev = self._save(replace(ev, state=EvalState.RUNNING, attempts=ev.attempts + 1))
            sets, training = self._eval_sets(ev)
            ev = self._save(replace(ev, problems_total=sum(len(s.problems) for s in sets)))
            model = self.inference.load(ev.checkpoint)
            loss, step = self.vault.lineage(model.asset)
            results = []
            for es in sets:
                result, ev = self._run_set(ev, es, model.name, model.asset)
                self.vault.attach_eval(model.asset, result, ev.campaign)
                self.progression.record_eval(ev.campaign, es.skill, es.level, result.accuracy, model.asset,
                                             step, loss)
                if (es.skill, es.level) in training:
                    # best/<skill> ranks checkpoints by how far up the curriculum they are: (level - 1) + accuracy.
                    self.vault.move_best(ev.campaign, es.skill, model.asset, es.level - 1 + result.accuracy)
                results.append(result)
                ev = self._save(replace(ev, results=tuple(results)))
            ev = self._save(replace(ev, state=EvalState.SUCCEEDED, end_time=time.time()))
        except Exception as exc:  # a failed trial is a state of the resource, with its reason
            log.warning("evaluation failed", evaluation=ev.name, error=_describe(exc))
            ev = self._save(replace(ev, state=EvalState.FAILED, error=_describe(exc), end_time=time.time()))
        if on_done is not None:
            on_done(ev)

    def _run_set(self, ev: Evaluation, es: EvalSet, model: str, asset: str) -> tuple[SkillResult, Evaluation]:
        skill = self.registry.get(es.skill)
        items: list[dict[str, Any]] = []

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
                           es.content_hash, mean_partial), ev


def _describe(exc: Exception) -> str:
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
                log.info("waiting for the vault ledger", error=_describe(exc), retry_in_s=backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    def _trial(self, event: RegisteredCheckpoint) -> None:
        try:
            ev = self.runner.start(event.campaign, event.asset)
        except (InvalidArgument, NotFound) as exc:  # e.g. a campaign with no enabled skill
            log.info("no trial for checkpoint", asset=event.asset, reason=str(exc))
            return
        self.started.append(ev.name)
        log.info("trial started", evaluation=ev.name, asset=event.asset, campaign=event.campaign)
