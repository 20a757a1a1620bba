"""Trial scheduling: retries with backoff, resume after a restart, coalescing, cooldown, full evals every K
checkpoints, sparring rows, and the LEVEL_UP announcements (scripted ports, real SQLite stores)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time

import pytest

from services.curriculum.deliveries import Deliveries
from services.curriculum.evaluation import (
    TRIGGER_CHECKPOINT,
    TRIGGER_REQUEST,
    EvalState,
    Evaluation,
    EvaluationRunner,
    EvaluationStore,
    LoadedModel,
    PeerUnavailable,
    SparringConfig,
    TrialPolicy,
    next_due,
)
from services.curriculum.progression import ProgressionConfig, ProgressionStore, SkillSettings
from services.curriculum.skills.base import eval_set
from services.curriculum.skills.registry import default_registry

REGISTRY = default_registry()
FAST = TrialPolicy(cooldown_s=0.0, retry_initial_s=0.05, retry_max_s=0.2, full_eval_every=0)


class Inference:
    """Answers eval problem i right when right(i); load() can fail or block by script."""

    def __init__(self, right=lambda i: True, load_failures=(), gate: threading.Event | None = None) -> None:
        self.right = right
        self.load_failures = list(load_failures)  # exceptions raised by the next loads, in order
        self.gate = gate
        self.loads: list[str] = []
        self.running = threading.Event()
        self._answers = {p.prompt[-1].content: (i, p.solution) for skill in ("bin", "syllo") for level in (1, 2, 3)
                         for i, p in enumerate(eval_set(REGISTRY.get(skill), level).problems)}

    def load(self, checkpoint):
        self.loads.append(checkpoint)
        self.running.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.load_failures:
            raise self.load_failures.pop(0)
        return LoadedModel("models/m", checkpoint)

    def chat(self, model, messages, max_new_tokens):
        i, solution = self._answers[messages[-1]["content"]]
        return solution if self.right(i) else "no idea"


class Vault:
    def __init__(self, attach_failures=()) -> None:
        self.attached, self.superseded, self.level_ups = [], [], []
        self.attach_failures = list(attach_failures)
        self.level_up_failures: list[Exception] = []

    def lineage(self, asset):
        return 0.5, 100

    def store_report(self, campaign, checkpoint, skill, level, report):
        return f"assets/report-{skill}-{level}"

    def attach_eval(self, checkpoint, result, campaign):
        if self.attach_failures and result.skill == self.attach_failures[0][0]:
            raise self.attach_failures.pop(0)[1]
        self.attached.append((checkpoint, result.skill, result.level))

    def move_best(self, campaign, skill, checkpoint, score):
        return True

    def mark_superseded(self, asset, superseded_by):
        self.superseded.append((asset, superseded_by))

    def append_level_up(self, change):
        if self.level_up_failures:
            raise self.level_up_failures.pop(0)
        self.level_ups.append(change)


class Trainer:
    def __init__(self) -> None:
        self.quests: list[tuple[str, str, int, bytes]] = []

    def submit_correction(self, campaign, skill, level, jsonl, display_name):
        self.quests.append((campaign, skill, level, jsonl))
        return f"quests/q{len(self.quests)}"


class StatusError(Exception):
    """Looks like a gRPC error to the runner (code() with a name), without importing grpc."""

    def __init__(self, name: str, details: str) -> None:
        super().__init__(details)
        self._name, self._details = name, details

    def code(self):
        return type("Code", (), {"name": self._name})()

    def details(self):
        return self._details


@pytest.fixture
def store(tmp_path):
    s = ProgressionStore(tmp_path / "c.db", REGISTRY, ProgressionConfig(eval_window=1))
    s.configure("c", [SkillSettings("bin")])
    yield s
    s.close()


def runner_for(tmp_path, store, inference, vault, policy=FAST, sparring=False, path="e.db"):
    return EvaluationRunner(EvaluationStore(tmp_path / path), REGISTRY, store, inference, vault, concurrency=4, policy=policy,
                            sparring_enabled=sparring)


def read_db(path, sql):
    """The database as another process sees it."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def wait_done(runner, name, timeout=20.0):
    deadline = time.monotonic() + timeout
    ev = runner.get(name)
    while not ev.finished:
        assert time.monotonic() < deadline, f"{name} still {ev.state.name}"
        ev = runner.wait_for_change(name, ev.version, 1)
    return ev


def _pending(name, create, campaign="c", trigger=TRIGGER_CHECKPOINT, next_attempt=0.0):
    return Evaluation(name, campaign, "assets/x", ("bin",), False, EvalState.PENDING, create_time=create,
                      trigger=trigger, next_attempt_time=next_attempt)


def test_next_due_honours_backoff_cooldown_and_age():
    a, b = _pending("a", 1.0, next_attempt=50.0), _pending("b", 2.0, campaign="d")
    assert next_due([a, b], {}, now=10.0, cooldown_s=30.0) == (b, None)  # a waits for its backoff
    assert next_due([a, b], {"d": 0.0}, now=10.0, cooldown_s=30.0) == (None, 30.0)  # b's cooldown ends first
    assert next_due([a, b], {"d": 0.0}, now=50.0, cooldown_s=30.0) == (a, None)  # oldest due first
    request = _pending("r", 3.0, campaign="d", trigger=TRIGGER_REQUEST)
    assert next_due([request], {"d": 9.0}, now=10.0, cooldown_s=30.0) == (request, None)  # requests: no cooldown
    assert next_due([], {}, 0.0, 1.0) == (None, None)


def test_policy_from_section_and_backoff():
    policy = TrialPolicy.from_section({"trial_cooldown_s": 3, "full_eval_every": 4, "trial_retry_initial_s": 1,
                                       "trial_retry_max_s": 5, "sparring": {"share": 0.25, "max_rows": 9}})
    assert (policy.cooldown_s, policy.full_eval_every, policy.sparring) == (3.0, 4, SparringConfig(True, 0.25, 9))
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    with pytest.raises(Exception, match="sparring.share"):
        TrialPolicy.from_section({"sparring": {"share": 2}})
    with pytest.raises(Exception, match="full_eval_every"):
        TrialPolicy.from_section({"full_eval_every": -1})


def test_unavailable_peers_are_retried_until_the_trial_succeeds(tmp_path, store):
    down = [StatusError("UNAVAILABLE", "inference restarting"), PeerUnavailable("vault down behind inference")]
    inference, vault = Inference(load_failures=down), Vault()
    runner = runner_for(tmp_path, store, inference, vault)
    ev = wait_done(runner, runner.start("c", "assets/ck1").name)
    assert ev.state is EvalState.SUCCEEDED and ev.attempts == 3 and ev.error == ""
    assert len(store.skill_progress("c", "bin").accuracy_history) == 1
    runner.close()


def test_a_retry_does_not_record_a_set_twice(tmp_path, store):
    store.configure("c", [SkillSettings("bin"), SkillSettings("syllo")])
    vault = Vault(attach_failures=[("syllo", StatusError("DEADLINE_EXCEEDED", "vault slow"))])
    runner = runner_for(tmp_path, store, Inference(), vault)
    ev = wait_done(runner, runner.start("c", "assets/ck1").name)
    assert ev.state is EvalState.SUCCEEDED and ev.attempts == 2
    assert [(r.skill, r.level) for r in ev.results] == [("bin", 1), ("syllo", 1)]
    assert len(store.skill_progress("c", "bin").accuracy_history) == 1  # bin ran in attempt 1 only
    assert len(store.skill_progress("c", "syllo").accuracy_history) == 1
    runner.close()


def test_non_retryable_failures_stay_failed(tmp_path, store):
    corrupt = StatusError("FAILED_PRECONDITION", "vault: FAILED_PRECONDITION: asset is CORRUPT")
    runner = runner_for(tmp_path, store, Inference(load_failures=[corrupt]), Vault())
    ev = wait_done(runner, runner.start("c", "assets/bad").name)
    assert ev.state is EvalState.FAILED and ev.attempts == 1 and "CORRUPT" in ev.error
    runner.close()


def test_a_restart_resumes_interrupted_and_pending_trials(tmp_path, store):
    gate = threading.Event()
    inference = Inference(gate=gate)
    runner = runner_for(tmp_path, store, inference, Vault())
    first = runner.start("c", "assets/ck1").name
    second = runner.start("c", "assets/ck2").name
    assert inference.running.wait(10)
    assert runner.get(first).state is EvalState.RUNNING and runner.get(second).state is EvalState.PENDING
    # The database as a crash (kill -9) leaves it: one trial RUNNING, one PENDING.
    crashed = sqlite3.connect(tmp_path / "crash.db")
    runner.store.backup(crashed)
    crashed.close()
    gate.set()
    runner.close()
    again = runner_for(tmp_path, store, Inference(), Vault(), path="crash.db")
    resumed = wait_done(again, first)
    assert resumed.state is EvalState.SUCCEEDED and resumed.attempts == 2
    assert wait_done(again, second).state is EvalState.SUCCEEDED
    again.close()


def test_a_burst_of_checkpoints_coalesces_into_one_trial_for_the_newest(tmp_path, store):
    gate = threading.Event()
    inference, vault = Inference(gate=gate), Vault()
    policy = TrialPolicy(cooldown_s=0.0, retry_initial_s=0.05, full_eval_every=2)
    runner = runner_for(tmp_path, store, inference, vault, policy=policy)
    deliveries = Deliveries(runner, store, vault, poll_s=0.05)
    deliveries.start()
    running = runner.enqueue_checkpoint("c", "assets/ck1")
    assert inference.running.wait(10)
    burst = [runner.enqueue_checkpoint("c", f"assets/ck{i}") for i in (2, 3, 4)]
    assert runner.enqueue_checkpoint("c", "assets/ck4").name == burst[-1].name  # idempotent per checkpoint
    gate.set()
    last = wait_done(runner, burst[-1].name)
    assert wait_done(runner, running.name).state is EvalState.SUCCEEDED
    assert last.state is EvalState.SUCCEEDED and last.checkpoint == "assets/ck4"
    # ck2 was the 2nd checkpoint (full every 2): the trial that replaced it inherits the full eval.
    # ck1 mastered L1 (window 1), so the full eval covers L1..L3 (training level 2, plus one).
    assert last.full and [r.level for r in last.results] == [1, 2, 3]
    skipped = [runner.get(b.name) for b in burst[:2]]
    assert [s.state for s in skipped] == [EvalState.SUPERSEDED] * 2
    assert [s.superseded_by for s in skipped] == [burst[1].name, burst[2].name]
    assert inference.loads == ["assets/ck1", "assets/ck4"]
    assert deliveries.wait_idle(10)
    assert sorted(vault.superseded) == [("assets/ck2", "assets/ck3"), ("assets/ck3", "assets/ck4")]
    deliveries.close()
    runner.close()


def test_follower_trials_of_a_campaign_respect_the_cooldown(tmp_path, store):
    policy = TrialPolicy(cooldown_s=0.6, full_eval_every=0)
    runner = runner_for(tmp_path, store, Inference(), Vault(), policy=policy)
    first = wait_done(runner, runner.enqueue_checkpoint("c", "assets/ck1").name)
    second = wait_done(runner, runner.enqueue_checkpoint("c", "assets/ck2").name)
    assert second.start_time - first.start_time >= 0.6
    request = wait_done(runner, runner.start("c", "assets/ck2").name)  # an explicit request skips it
    assert request.start_time - second.start_time < 0.6
    runner.close()


def test_wrong_answers_become_one_sparring_quest(tmp_path, store):
    policy = TrialPolicy(cooldown_s=0.0, full_eval_every=0, sparring=SparringConfig(True, 0.5, 200))
    inference, vault, trainer = Inference(right=lambda i: i >= 10), Vault(), Trainer()  # 10 of 50 wrong
    runner = runner_for(tmp_path, store, inference, vault, policy=policy, sparring=True)
    deliveries = Deliveries(runner, store, vault, trainer, poll_s=0.05)
    deliveries.start()
    ev = wait_done(runner, runner.start("c", "assets/ck1").name)
    assert deliveries.wait_idle(10)
    ((campaign, skill, level, jsonl),) = trainer.quests
    rows = jsonl.decode().splitlines()
    assert (campaign, skill, level, len(rows)) == ("c", "bin", 1, 5)
    assert all('"kind": "sparring"' in r and "It is incorrect." in r for r in rows)
    assert runner.get(ev.name).sparring_quest == "quests/q1"
    deliveries.close()
    runner.close()
    # max_rows caps it; sparring off (no trainer) queues nothing.
    capped = TrialPolicy(cooldown_s=0.0, full_eval_every=0, sparring=SparringConfig(True, 1.0, 3))
    runner = runner_for(tmp_path, store, Inference(right=lambda i: False), vault, policy=capped, sparring=True,
                        path="e2.db")
    wait_done(runner, runner.start("c", "assets/ck2", skills=["syllo"]).name)
    (payload,) = read_db(tmp_path / "e2.db", "SELECT payload FROM outbox WHERE kind = 'sparring'")
    assert '"rows": 3' in payload[0]
    runner.close()
    off = runner_for(tmp_path, store, Inference(right=lambda i: False), vault, policy=capped, path="e3.db")
    wait_done(off, off.start("c", "assets/ck3").name)
    assert read_db(tmp_path / "e3.db", "SELECT COUNT(*) FROM outbox")[0][0] == 0
    off.close()


def test_level_ups_are_announced_once_even_when_the_vault_was_down(tmp_path, store):
    vault = Vault()
    vault.level_up_failures = [StatusError("UNAVAILABLE", "vault restarting")]
    runner = runner_for(tmp_path, store, Inference(), vault)
    deliveries = Deliveries(runner, store, vault, poll_s=0.05)
    deliveries.start()
    ev = wait_done(runner, runner.start("c", "assets/ck1").name)  # 100% at L1 with a window of 1: level up
    assert ev.state is EvalState.SUCCEEDED
    store.record_eval("c", "bin", 2, 1.0, "assets/ck9")  # a RecordEval call levels up too
    deadline = time.monotonic() + 10
    while len(vault.level_ups) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(u.campaign, u.skill, u.from_level, u.to_level, u.checkpoint) for u in vault.level_ups] == \
        [("c", "bin", 0, 1, "assets/ck1"), ("c", "bin", 1, 2, "assets/ck9")]
    assert vault.level_ups[0].mean_accuracy == 1.0
    deliveries.close()
    again = Deliveries(runner, store, vault, poll_s=0.05)  # a restart does not announce them again
    again.deliver_pending()
    assert len(vault.level_ups) == 2
    # A permanent refusal is logged and skipped: later level-ups do not wait behind it.
    vault.level_up_failures = [StatusError("INVALID_ARGUMENT", "event.campaign: bad")]
    store.record_eval("c", "bin", 3, 1.0)
    store.record_eval("c", "bin", 4, 1.0)
    again.deliver_pending()
    assert [u.to_level for u in vault.level_ups] == [1, 2, 4]
    runner.close()
