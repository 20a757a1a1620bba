"""The evaluation runner's bookkeeping, with scripted ports: accuracy, reports, level-ups, failures, watch."""

from __future__ import annotations

import threading

import pytest

from services.curriculum.evaluation import (
    CheckpointFollower,
    EvalState,
    EvaluationRunner,
    EvaluationStore,
    LoadedModel,
    RegisteredCheckpoint,
)
from services.curriculum.progression import ProgressionConfig, ProgressionStore, SkillSettings
from services.curriculum.skills.base import eval_set
from services.curriculum.skills.registry import default_registry
from services.kit.errors import NotFound

REGISTRY = default_registry()


class ScriptedInference:
    """Answers an eval problem right when `right(index)` says so, by looking its prompt up in the eval set."""

    def __init__(self, right, fail_load: bool = False) -> None:
        self.right = right
        self.fail_load = fail_load
        self.prompts: list[str] = []
        self._lock = threading.Lock()

    def load(self, checkpoint):
        if self.fail_load:
            raise RuntimeError(f"cannot load {checkpoint}")
        return LoadedModel("models/m", "assets/ck1")

    def chat(self, model, messages, max_new_tokens):
        prompt = messages[-1]["content"]
        with self._lock:
            self.prompts.append(prompt)
        for skill in ("bin", "syllo"):
            for level in (1, 2, 3):
                for i, p in enumerate(eval_set(REGISTRY.get(skill), level).problems):
                    if p.prompt[-1].content == prompt:
                        return p.solution if self.right(i) else "no idea"
        raise AssertionError("asked something that is not an eval problem")


class RecordingVault:
    def __init__(self, events=()) -> None:
        self.reports, self.attached, self.best = [], [], []
        self.events = list(events)
        self.follow_calls: list[int] = []

    def lineage(self, asset):
        return 0.7, 500

    def store_report(self, campaign, checkpoint, skill, level, report):
        self.reports.append(report)
        return f"assets/report{len(self.reports)}"

    def attach_eval(self, checkpoint, result, campaign):
        self.attached.append((checkpoint, result))

    def move_best(self, campaign, skill, checkpoint, score):
        self.best.append((campaign, skill, checkpoint, round(score, 4)))
        return True

    def follow_checkpoints(self, after_sequence):
        self.follow_calls.append(after_sequence)
        return ScriptedStream([e for e in self.events if e.sequence > after_sequence])


class ScriptedStream:
    """Yields its events, then blocks like a live stream until cancelled."""

    def __init__(self, events) -> None:
        self.events = events
        self.cancelled = threading.Event()

    def __iter__(self):
        yield from self.events
        self.cancelled.wait(10)
        raise RuntimeError("cancelled")

    def cancel(self):
        self.cancelled.set()


@pytest.fixture
def parts(tmp_path):
    store = ProgressionStore(tmp_path / "c.db", REGISTRY, ProgressionConfig(eval_window=1))
    yield tmp_path, store
    store.close()


def make_runner(tmp_path, store, inference, vault):
    return EvaluationRunner(EvaluationStore(tmp_path / "e.db"), REGISTRY, store, inference, vault, concurrency=4)


def wait_done(runner, name):
    ev = runner.get(name)
    while not ev.finished:
        ev = runner.wait_for_change(name, ev.version, 10)
    return ev


def test_accuracy_report_attach_and_level_up(parts):
    tmp_path, store = parts
    store.configure("c", [SkillSettings("bin"), SkillSettings("syllo")])
    inference, vault = ScriptedInference(lambda i: i < 46), RecordingVault()
    runner = make_runner(tmp_path, store, inference, vault)
    ev = wait_done(runner, runner.start("campaigns/c", "campaigns/c/aliases/latest").name)
    assert ev.state is EvalState.SUCCEEDED and ev.problems_done == ev.problems_total == 100
    assert [(r.skill, r.level, r.correct, r.total, r.accuracy) for r in ev.results] == \
        [("bin", 1, 46, 50, 0.92), ("syllo", 1, 46, 50, 0.92)]
    assert [r.report_asset for r in ev.results] == ["assets/report1", "assets/report2"]
    assert vault.reports[0]["regime"] == "exhaustive" and vault.reports[1]["regime"] == "held_out"
    assert vault.reports[0]["checkpoint"] == "assets/ck1" and len(vault.reports[0]["items"]) == 50
    assert [c for c, _ in vault.attached] == ["assets/ck1", "assets/ck1"]
    assert vault.best == [("c", "bin", "assets/ck1", 0.92), ("c", "syllo", "assets/ck1", 0.92)]
    progress = {s.skill: s for s in store.progress("c").skills}
    assert progress["bin"].mastered_level == 1  # 0.92 >= 0.9
    assert progress["syllo"].mastered_level == 1  # 0.92 >= 0.8
    point = progress["bin"].accuracy_history[-1]
    assert (point.checkpoint, point.global_step) == ("assets/ck1", 500)
    runner.close()


def test_full_evaluation_covers_every_level_up_to_training_plus_one(parts):
    tmp_path, store = parts
    store.configure("c", [SkillSettings("bin", training_level_override=2)])
    runner = make_runner(tmp_path, store, ScriptedInference(lambda i: False), RecordingVault())
    ev = wait_done(runner, runner.start("c", "assets/ck1", skills=["bin"], full=True).name)
    assert [(r.level, r.accuracy) for r in ev.results] == [(1, 0.0), (2, 0.0), (3, 0.0)]
    # Only the training level's result ranks the checkpoint for best/<skill>.
    assert runner.vault.best == [("c", "bin", "assets/ck1", 1.0)]
    assert ev.full and ev.problems_total == 150
    runner.close()


def test_a_failed_trial_is_a_state_with_its_reason(parts):
    tmp_path, store = parts
    runner = make_runner(tmp_path, store, ScriptedInference(lambda i: True, fail_load=True), RecordingVault())
    ev = wait_done(runner, runner.start("c", "assets/missing", skills=["bin"]).name)
    assert ev.state is EvalState.FAILED and "cannot load assets/missing" in ev.error
    assert store.skill_progress("c", "bin").accuracy_history == ()
    runner.close()


def test_unknown_evaluation_is_not_found(parts):
    tmp_path, store = parts
    runner = make_runner(tmp_path, store, ScriptedInference(lambda i: True), RecordingVault())
    with pytest.raises(NotFound):
        runner.get("evaluations/nope")
    runner.close()


def test_follower_starts_a_trial_per_new_checkpoint_and_keeps_its_place(parts):
    tmp_path, store = parts
    store.configure("c", [SkillSettings("bin")])
    now = 1000.0
    events = [RegisteredCheckpoint(3, "assets/old", "c", now - 5),   # before the follower first ran: skipped
              RegisteredCheckpoint(4, "assets/ck1", "c", now + 1),
              RegisteredCheckpoint(5, "assets/free", "", now + 2),   # no campaign: nothing to evaluate
              RegisteredCheckpoint(6, "assets/ck2", "nobody", now + 3)]
    vault = RecordingVault(events)
    store.configure("nobody", [SkillSettings("bin", enabled=False)])
    runner = make_runner(tmp_path, store, ScriptedInference(lambda i: True), vault)
    follower = CheckpointFollower(runner, vault, clock=lambda: now)
    follower.start()
    deadline = threading.Event()
    for _ in range(100):
        if follower.position()[0] == 6:
            break
        deadline.wait(0.05)
    follower.close()
    assert follower.position() == (6, now)
    (name,) = follower.started
    ev = wait_done(runner, name)
    assert (ev.campaign, ev.checkpoint, ev.state) == ("c", "assets/ck1", EvalState.SUCCEEDED)
    # A restarted follower resumes after the last event it handled.
    again = CheckpointFollower(runner, vault, clock=lambda: now + 99)
    again.start()
    for _ in range(100):
        if len(vault.follow_calls) == 2:
            break
        deadline.wait(0.05)
    again.close()
    assert vault.follow_calls == [0, 6] and again.started == []
    runner.close()
