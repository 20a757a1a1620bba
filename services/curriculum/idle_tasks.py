"""The curriculum's side of idle-GPU tasks (the inference host keeps the task board; see its README).

The curriculum owns evals and graders, inference owns the engine, and neither imports the other: the curriculum
registers tasks on the inference host's board (CreateTask) and runs a worker (realm.sdk.tasks.TaskWorker) that
claims the kinds it knows — only handed out while the host is idle — and answers every problem with
background-priority chat, which the engine preempts for interactive requests (ABORTED "preempted": retried
here after a pause, the lease kept alive meanwhile).

Kinds:
- "passives" {campaign, checkpoint, base}: the campaign's transfer baselines on that model (passives.py);
- "eval" {campaign, checkpoint}: a full eval (every level up to training level + 1 of the enabled skills) of an
  older checkpoint; reports go to the vault and are attached to the checkpoint, progression is not touched;
- "sparring" {campaign, checkpoint, skill?, level?, problems?, seed?}: the model answers fresh training problems
  and its wrong answers become correction rows (sparring.py), queued on the curriculum's outbox as one sparring
  quest per (skill, level) — Deliveries sends them to the trainer as it sends a trial's.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from realm.sdk.tasks import TaskContext, TaskWorker, create_task
from services.curriculum.evaluation.model import SkillResult
from services.curriculum.evaluation.scheduler import plan_sets
from services.curriculum.passives import Passives
from services.curriculum.progression import campaign_id
from services.curriculum.skills.base import eval_set, rows_to_jsonl
from services.curriculum.sparring import parse_request, spar
from services.kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument

log = structlog.get_logger(__name__)
KINDS = ("eval", "passives", "sparring")
RETRY_CODES = frozenset({"ABORTED", "RESOURCE_EXHAUSTED", "UNAVAILABLE"})
TOKEN_SLACK = 32


def _code(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return getattr(code(), "name", "") if callable(code) else ""


class BackgroundChat:
    """Greedy background-priority chat; preempted (or busy) answers are retried, renewing the task's lease."""

    def __init__(self, realm, context: TaskContext | None = None, *, max_delay_s: float = 10.0) -> None:
        self._realm = realm
        self._context = context
        self._max_delay_s = max_delay_s
        self.retries = 0

    def __call__(self, model: str, messages: Sequence[Mapping[str, str]], max_new_tokens: int) -> str:
        delay = 0.25
        while True:
            try:
                reply = self._realm.inference.chat(model, messages, max_new_tokens=max_new_tokens, temperature=0.0,
                                                   background=True, timeout=600)
                return reply.message.content
            except Exception as exc:
                if _code(exc) not in RETRY_CODES:
                    raise
                self.retries += 1
                if self._context is not None:
                    self._context.report(self._context.task.progress, "waiting for the host to be idle")
                time.sleep(delay)  # back off: interactive work has the host now
                delay = min(delay * 2, self._max_delay_s)


class IdleTasks:
    def __init__(self, realm, passives: Passives, inference, vault, *, worker: str = "curriculum",
                 on_checkpoint: bool = True, outbox=None, sparring_max_rows: int = 200) -> None:
        self.realm = realm
        self.passives = passives
        self.inference = inference  # remote.SdkInference: load a checkpoint and wait
        self.vault = vault  # remote.SdkVault: eval reports
        self.on_checkpoint = on_checkpoint
        # The evaluations store's outbox (Deliveries sends its sparring quests to the trainer); None: no trainer.
        self.outbox = outbox
        self.sparring_max_rows = sparring_max_rows
        self._last_error = ""
        self.worker = TaskWorker(realm, worker, {"passives": self.run_passives, "eval": self.run_eval,
                                                 "sparring": self.run_sparring},
                                 poll_seconds=passives.config.poll_seconds, on_error=self._log_error)

    def _log_error(self, exc: Exception) -> None:
        """Once per distinct error: an inference host that is down is not news every poll."""
        message = f"{_code(exc) or type(exc).__name__}: {getattr(exc, 'details', lambda: str(exc))()}"
        if message != self._last_error:
            self._last_error = message
            log.warning("idle-task worker cannot reach the inference host's task board", error=message)

    # ---- registering -------------------------------------------------------------------------------------
    def schedule_passives(self, campaign: str, checkpoint: str, *, base: bool, priority: int = 0,
                          task_id: str = "") -> tuple[str, list[str]]:
        cid = campaign_id(campaign)
        if not checkpoint:
            raise InvalidArgument("name the model to measure (assets/…, an alias or a directory)", field="checkpoint")
        if not 0 <= priority <= 100:
            raise InvalidArgument("must be in [0, 100]", field="priority")
        sets = [str(s) for s in self.passives.sets(cid)]
        task = create_task(self.realm, "passives", {"campaign": cid, "checkpoint": checkpoint,
                                                    "base": "true" if base else "false"},
                           priority=priority or 50, display_name=f"passives {cid} {checkpoint}", task_id=task_id)
        return task.name, sets

    def checkpoint_registered(self, campaign: str, asset: str) -> None:
        """A new checkpoint of a campaign that has a base model: measure its passives when the host is idle."""
        cid = campaign_id(campaign)
        if not self.on_checkpoint or not self.passives.store.base(cid):
            return
        task_id = "passives-" + hashlib.sha256(f"{cid}/{asset}".encode()).hexdigest()[:16]
        try:  # the id is derived from the checkpoint: a ledger event seen twice queues it once
            self.schedule_passives(cid, asset, base=False, priority=40, task_id=task_id)
        except Exception as exc:
            if _code(exc) != "ALREADY_EXISTS" and not isinstance(exc, AlreadyExists):
                raise

    # ---- running ------------------------------------------------------------------------------------------
    def run_passives(self, context: TaskContext) -> dict[str, Any]:
        params = context.parameters
        model = self.inference.load(params["checkpoint"])
        measured = self.passives.run(params["campaign"], model=model.name, checkpoint=model.asset,
                                     base=params.get("base") == "true", chat=BackgroundChat(self.realm, context),
                                     progress=context.report)
        return {"sets": len(measured), "checkpoint": model.asset,
                **{f"{m.skill}/{m.level}": f"{m.accuracy:.4f}" for m in measured}}

    def run_eval(self, context: TaskContext) -> dict[str, Any]:
        params = context.parameters
        cid = campaign_id(params["campaign"])
        progression, registry = self.passives.progression, self.passives.registry
        skills = [sp for sp in progression.progress(cid).skills if sp.enabled]
        plan = plan_sets(skills, full=True)
        model = self.inference.load(params["checkpoint"])
        chat = BackgroundChat(self.realm, context)
        results: dict[str, Any] = {"checkpoint": model.asset}
        for index, (skill_name, level, _training) in enumerate(plan):
            context.report(index / len(plan), f"{skill_name} L{level}")
            skill, frozen = registry.get(skill_name), eval_set(registry.get(skill_name), level)
            outcomes = [skill.grade(p, chat(model.name, [m.to_dict() for m in p.prompt],
                                             len(p.solution) + TOKEN_SLACK)) for p in frozen.problems]
            correct = sum(o.correct for o in outcomes)
            accuracy = correct / len(outcomes)
            mean_partial = sum(o.partial_score for o in outcomes) / len(outcomes)
            report = {"campaign": cid, "checkpoint": model.asset, "skill": skill_name, "level": level,
                      "eval_set_hash": frozen.content_hash, "accuracy": accuracy, "correct": correct,
                      "total": len(outcomes), "decoding": "greedy", "trigger": "idle-task", "task": context.task.name}
            if model.asset.startswith("assets/"):  # a vault checkpoint: its eval goes on record there
                report_asset = self.vault.store_report(cid, model.asset, skill_name, level, report)
                self.vault.attach_eval(model.asset, SkillResult(skill_name, level, accuracy, correct, len(outcomes),
                                                                frozen.regime.value, report_asset,
                                                                frozen.content_hash, mean_partial), cid)
            results[f"{skill_name}/{level}"] = f"{accuracy:.4f}"
        return results

    def run_sparring(self, context: TaskContext) -> dict[str, Any]:
        request = parse_request(context.parameters, self.passives.progression, self.passives.registry,
                                context.task.name)
        if self.outbox is None:
            raise FailedPrecondition("realm.yaml names no trainer to send sparring quests to", field="trainer")
        model = self.inference.load(request.checkpoint)
        sets = spar(request, self.passives.registry, model=model.name, chat=BackgroundChat(self.realm, context),
                    max_rows=self.sparring_max_rows, concurrency=self.passives.config.concurrency,
                    progress=context.report)
        task_id = context.task.name.removeprefix("tasks/")
        queued = []
        for found in sets:
            if not found.rows:
                continue  # nothing it got wrong: no quest
            key = f"sparring/{context.task.name}/{found.skill}/{found.level}"
            self.outbox.queue_effect("sparring", key, {
                "evaluation": "", "task": context.task.name, "origin": task_id, "campaign": request.campaign,
                "checkpoint": model.asset, "skill": found.skill, "level": found.level, "rows": len(found.rows),
                "jsonl": rows_to_jsonl(found.rows).decode("utf-8")})
            queued.append(key)
        return {"checkpoint": model.asset, "seed": request.seed, "rows": sum(len(s.rows) for s in sets),
                "quests_queued": len(queued),
                **{f"{s.skill}/{s.level}": f"{s.wrong}/{s.attempted} wrong, {len(s.rows)} rows" for s in sets}}

    def start(self) -> None:
        self.worker.start()

    def close(self) -> None:
        self.worker.close()


class TrialsAndPassives:
    """What the checkpoint follower drives: the trial of each new checkpoint, then its passives task."""

    def __init__(self, runner, idle: IdleTasks) -> None:
        self.runner = runner
        self.store = runner.store  # the follower keeps its ledger cursor there
        self.idle = idle

    def enqueue_checkpoint(self, campaign: str, checkpoint: str):
        trial = self.runner.enqueue_checkpoint(campaign, checkpoint)
        try:
            self.idle.checkpoint_registered(campaign, checkpoint)
        except Exception as exc:  # passives are best effort: the trial must not wait on the inference host
            log.warning("could not queue passives", campaign=campaign, checkpoint=checkpoint, error=str(exc))
        return trial
