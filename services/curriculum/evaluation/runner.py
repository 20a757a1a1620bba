"""Trials: run a checkpoint through the frozen eval sets, grade, store the report, record the result.

The runner talks to inference and the vault through the ports in `ports.py`, so it stays plain Python.
Evaluations are resources in the `EvaluationStore`, with a state (PENDING → RUNNING → SUCCEEDED/FAILED, or
SUPERSEDED) and progress that `wait_for_change` follows.

One worker thread: trials share one inference host, so at most one runs at a time, per campaign too.
- a trial that fails because a peer is unavailable goes back to PENDING with a backoff and is retried
  until it succeeds (`attempts` counts them); other failures (e.g. a CORRUPT checkpoint) stay FAILED;
- a restart resumes PENDING and interrupted (RUNNING) trials; sets already recorded are not re-run;
- checkpoints from the ledger follower coalesce: a new one supersedes the campaign's not-yet-started
  follower trial (SUPERSEDED, its checkpoint labelled trial=superseded in the vault) and inherits `full`;
- follower trials of a campaign start at least `cooldown_s` apart; every `full_eval_every`-th checkpoint
  of a campaign gets a full eval (all levels up to training level + 1).
"""

from __future__ import annotations

import math
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import structlog

from services.curriculum.config import TrialPolicy
from services.curriculum.evaluation.model import (
    TRIGGER_CHECKPOINT,
    EvalState,
    Evaluation,
    PlannedSet,
    SkillResult,
)
from services.curriculum.evaluation.ports import InferencePort, VaultPort, describe_error, is_retryable
from services.curriculum.evaluation.scheduler import is_full_eval, next_due, plan_sets
from services.curriculum.evaluation.store import EvaluationStore
from services.curriculum.progression import ProgressionStore, campaign_id
from services.curriculum.skills.base import EvalSet, Problem, eval_set, rows_to_jsonl, sparring_row
from services.curriculum.skills.registry import SkillRegistry
from services.kit.errors import InvalidArgument, NotFound

log = structlog.get_logger(__name__)

# Responses may be longer than the reference solution; the budget is generous but bounded.
TOKEN_SLACK, MAX_NEW_TOKENS = 32, 2048
IDLE_WAIT_S = 5.0  # the worker looks again at least this often (e.g. after a transient database error)


class EvaluationRunner:
    def __init__(self, store: EvaluationStore, registry: SkillRegistry, progression: ProgressionStore,
                 inference: InferencePort, vault: VaultPort, concurrency: int = 8,
                 policy: TrialPolicy | None = None, sparring_enabled: bool = False, clock=time.time) -> None:
        self.store = store
        self.registry = registry
        self.progression = progression
        self.inference = inference
        self.vault = vault
        self.concurrency = concurrency
        self.policy = policy or TrialPolicy()
        # Sparring needs a trainer to send the quests to; app.py turns it on only when one is configured.
        self.sparring_enabled = sparring_enabled and self.policy.sparring.enabled
        self._clock = clock
        self._closed = False
        self._callbacks: dict[str, Callable[[Evaluation], None]] = {}
        self._callbacks_lock = threading.Lock()
        store.requeue_interrupted("interrupted: the curriculum service restarted")
        self._worker = threading.Thread(target=self._work, name="evaluation", daemon=True)
        self._worker.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop the worker (a running trial goes back to PENDING) and close the store."""
        self._closed = True
        self.store.notify()
        self._worker.join(60)
        self.store.close()

    # ------------------------------------------------------------------ reading
    def _saved(self, ev: Evaluation) -> Evaluation:
        return replace(ev, version=self.store.save(ev))

    def get(self, name: str) -> Evaluation:
        ev = self.store.get(name)
        if ev is None:
            raise NotFound(f"no evaluation {name!r}", field="name")
        return ev

    def list(self, campaign: str = "") -> list[Evaluation]:
        return self.store.list(campaign_id(campaign) if campaign else "")

    def wait_for_change(self, name: str, seen_version: int, timeout: float) -> Evaluation:
        """Block until the evaluation's version passes `seen_version` (or timeout); return it."""
        self.store.wait_for(lambda: self.store.version(name) > seen_version or self._closed, timeout)
        return self.get(name)

    def set_sparring_quest(self, name: str, quest: str) -> None:
        self.store.set_sparring_quest(name, quest)

    # ------------------------------------------------------------------ start
    def _skills(self, cid: str, skills: Sequence[str]) -> list[str]:
        if skills:
            chosen = [self.registry.get(s).name for s in skills]
        else:
            chosen = [s.skill for s in self.progression.progress(cid).skills if s.enabled]
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
        if on_done is not None:
            with self._callbacks_lock:
                self._callbacks[ev.name] = on_done
        return self._saved(ev)

    def enqueue_checkpoint(self, campaign: str, checkpoint: str) -> Evaluation:
        """A checkpoint the ledger follower saw: one pending trial per campaign, for its newest checkpoint.

        Idempotent per checkpoint (the follower may see one again after a crash)."""
        cid = campaign_id(campaign)
        chosen = self._skills(cid, ())
        superseded: list[Evaluation] = []
        with self.store.transaction():
            existing = self.store.follower_trial(cid, checkpoint)
            if existing is not None:
                return existing
            full = is_full_eval(self.store.count_checkpoint(cid), self.policy.full_eval_every)
            pending = self.store.pending_follower_trials(cid)
            now = self._clock()
            ev = self._saved(Evaluation(f"evaluations/{uuid.uuid4().hex[:16]}", cid, checkpoint, tuple(chosen),
                                        full or any(p.full for p in pending), EvalState.PENDING, create_time=now,
                                        trigger=TRIGGER_CHECKPOINT))
            for old in pending:
                superseded.append(self._saved(replace(old, state=EvalState.SUPERSEDED, superseded_by=ev.name,
                                                      end_time=now)))
        for old in superseded:
            log.info("trial superseded", evaluation=old.name, checkpoint=old.checkpoint, by=ev.checkpoint)
            self.store.queue_effect("superseded", f"superseded/{old.checkpoint}",
                                    {"asset": old.checkpoint, "superseded_by": ev.checkpoint, "campaign": cid})
        return ev

    # ------------------------------------------------------------------ worker
    def _claim_next(self, now: float) -> tuple[Evaluation | None, float | None]:
        """The trial due now, marked RUNNING in the same transaction (the follower may supersede meanwhile)."""
        with self.store.transaction():
            ev, wake_at = next_due(self.store.pending(), self.store.last_follower_starts(), now,
                                   self.policy.cooldown_s)
            if ev is None:
                return None, wake_at
            return self._saved(replace(ev, state=EvalState.RUNNING, attempts=ev.attempts + 1, start_time=now,
                                       next_attempt_time=0.0)), None

    def _work(self) -> None:
        while not self._closed:
            generation = self.store.generation  # read before looking, so no change in between is missed
            now = self._clock()
            try:
                ev, wake_at = self._claim_next(now)
            except sqlite3.Error:  # e.g. the disk is full: keep the worker alive and look again
                log.exception("cannot read pending evaluations")
                ev, wake_at = None, now + IDLE_WAIT_S
            if ev is None:
                # Woken by any change (a new trial, shutdown) or when the earliest backoff / cooldown ends.
                timeout = min(max(wake_at - now, 0.01), IDLE_WAIT_S) if wake_at is not None else IDLE_WAIT_S
                self.store.wait_for(lambda g=generation: self.store.generation != g or self._closed, timeout)
                continue
            try:
                self._run(ev)
            except Exception:  # the worker must survive anything; _run records failures itself
                log.exception("evaluation worker error", evaluation=ev.name)

    # ------------------------------------------------------------------ run
    def _plan(self, ev: Evaluation) -> tuple[PlannedSet, ...]:
        for name in ev.skills:
            self.registry.get(name)  # a skill removed since the trial was queued fails it with NOT_FOUND
        return plan_sets([self.progression.skill_progress(ev.campaign, name) for name in ev.skills], ev.full)

    def _run(self, ev: Evaluation) -> None:
        try:
            if not ev.plan:
                plan = self._plan(ev)
                total = sum(len(eval_set(self.registry.get(s), lvl).problems) for s, lvl, _ in plan)
                ev = self._saved(replace(ev, plan=plan, problems_total=total))
            done = {(r.skill, r.level) for r in ev.results}
            ev = self._saved(replace(ev, problems_done=sum(r.total for r in ev.results)))
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
                ev = self._saved(replace(ev, results=(*ev.results, result)))
                if training and wrong and self.sparring_enabled:
                    self._queue_sparring(ev, es, wrong)
            ev = self._saved(replace(ev, state=EvalState.SUCCEEDED, end_time=self._clock(), error=""))
        except Exception as exc:  # a failed trial is a state of the resource, with its reason
            reason = describe_error(exc)
            if self._closed:
                self._saved(replace(ev, state=EvalState.PENDING, error="interrupted: shutting down"))
                return
            if is_retryable(exc):
                delay = self.policy.backoff(ev.attempts)
                log.warning("evaluation will be retried", evaluation=ev.name, error=reason, attempts=ev.attempts,
                            retry_in_s=delay)
                self._saved(replace(ev, state=EvalState.PENDING, error=reason, next_attempt_time=self._clock() + delay))
                return
            log.warning("evaluation failed", evaluation=ev.name, error=reason)
            ev = self._saved(replace(ev, state=EvalState.FAILED, error=reason, end_time=self._clock()))
        with self._callbacks_lock:
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
        self.store.queue_effect("sparring", f"sparring/{ev.name}/{es.skill}/{es.level}", {
            "evaluation": ev.name, "campaign": ev.campaign, "checkpoint": ev.checkpoint, "skill": es.skill,
            "level": es.level, "rows": len(rows), "jsonl": rows_to_jsonl(rows).decode("utf-8")})

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
            return problem, response, skill.grade(problem, response)

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
                ev = self._saved(replace(ev, problems_done=done))
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
