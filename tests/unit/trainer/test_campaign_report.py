"""`realm campaign report`: the report assembled from trainer + curriculum responses, and its tables.

The services are stood in by objects answering the same RPC names with real proto messages (the integration
test tests/integration/trainer/test_level_up.py reads a report from real servers)."""

from __future__ import annotations

import argparse
import json
from types import SimpleNamespace

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from realm.cli.commands.trainer import campaign_report_cmd, report_tables
from realm.curriculum.v1 import curriculum_pb2 as cpb
from realm.sdk.trainer import campaign_report
from realm.trainer.v1 import loop_time_pb2 as lpb
from realm.trainer.v1 import trainer_pb2 as pb

T0 = 1_800_000_000.0  # first quest start


def ts(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


class Trainer:
    def GetCampaign(self, request):
        assert request.name == "campaigns/road"
        return pb.GetCampaignResponse(campaign=pb.Campaign(
            name=request.name, display_name="Road", hero="heroes/tiny", state=pb.CAMPAIGN_STATE_ACTIVE,
            global_step=1200, trained_tokens=345_000, create_time=ts(T0 - 30)))

    def ListQuests(self, request):
        # Two pages, to check pagination is followed.
        if not request.page_token:
            return pb.ListQuestsResponse(quests=[
                pb.Quest(name="quests/a", state=pb.QUEST_STATE_COMPLETED, source="hero_loop", start_time=ts(T0)),
                pb.Quest(name="quests/b", state=pb.QUEST_STATE_SKIPPED, source="hero_loop"),
            ], next_page_token="p2")
        return pb.ListQuestsResponse(quests=[
            pb.Quest(name="quests/c", state=pb.QUEST_STATE_RUNNING, source="sparring", start_time=ts(T0 + 600)),
        ])

    def GetLoopTime(self, request):
        return lpb.GetLoopTimeResponse(loop_time=lpb.LoopTime(
            campaign=request.campaign, training_seconds=2700, worker_startup_seconds=300, checkpoint_save_seconds=60,
            waiting_for_data_seconds=240, idle_seconds=300, wall_seconds=3600, busy_share=0.75, upload_seconds=45,
            worker_starts=2, worker_reuses=28, since=ts(T0)))


class OldTrainer(Trainer):
    """A trainer from before GetLoopTime: the report leaves the loop section out."""

    def GetLoopTime(self, request):
        raise Unimplemented()


class Curriculum:
    def __init__(self, down: bool = False) -> None:
        self.down = down

    def GetCampaignProgress(self, request):
        if self.down:
            raise Down()
        return cpb.GetCampaignProgressResponse(progress=cpb.CampaignProgress(campaign=request.campaign, skills=[
            cpb.SkillProgress(
                skill="skills/bin", enabled=True, mastered_level=2, training_level=3, max_level=8,
                progression=[
                    cpb.LevelChange(from_level=0, to_level=1, time=ts(T0 + 540), checkpoint="assets/c1",
                                    mean_accuracy=0.96),
                    cpb.LevelChange(from_level=1, to_level=2, time=ts(T0 + 1500), checkpoint="assets/c2",
                                    mean_accuracy=0.91)],
                accuracy_history=[cpb.AccuracyPoint(level=1, accuracy=0.4, checkpoint="assets/c0", global_step=100),
                                  cpb.AccuracyPoint(level=1, accuracy=0.96, checkpoint="assets/c1",
                                                    global_step=400)]),
            cpb.SkillProgress(skill="skills/syllo", enabled=False, max_level=5),
        ]))

    def ListEvaluations(self, request):
        def result(level, accuracy, regime, total=50):
            return cpb.SkillEvalResult(skill="skills/bin", level=level, accuracy=accuracy, regime=regime,
                                       correct=round(accuracy * total), total=total)

        return cpb.ListEvaluationsResponse(evaluations=[  # newest first, as the curriculum lists them
            cpb.Evaluation(name="evaluations/e1", checkpoint="assets/c1", state=cpb.EVALUATION_STATE_SUCCEEDED,
                           create_time=ts(T0 + 500), start_time=ts(T0 + 505), end_time=ts(T0 + 530), full=True,
                           results=[result(1, 0.96, cpb.REGIME_EXHAUSTIVE), result(3, 0.1, cpb.REGIME_HELD_OUT)]),
            cpb.Evaluation(name="evaluations/e0", checkpoint="assets/c0", state=cpb.EVALUATION_STATE_SUCCEEDED,
                           create_time=ts(T0 + 100), end_time=ts(T0 + 120),
                           results=[result(1, 0.4, cpb.REGIME_EXHAUSTIVE)]),
        ])


class Unimplemented(grpc.RpcError):
    def code(self):
        return grpc.StatusCode.UNIMPLEMENTED

    def details(self):
        return "Method not found!"


class Down(grpc.RpcError):
    def code(self):
        return grpc.StatusCode.UNAVAILABLE

    def details(self):
        return "connection refused"


def test_report_joins_progression_trials_and_training():
    realm = SimpleNamespace(trainer=Trainer(), curriculum=Curriculum())
    report = campaign_report(realm, "road", now=T0 + 3600)

    assert report["training"] == {"global_step": 1200, "trained_tokens": 345_000,
                                  "first_quest_start": "2027-01-15T08:00:00+00:00", "wall_seconds": 3600.0}
    assert report["quests"] == {"total": 3, "by_state": {"COMPLETED": 1, "SKIPPED": 1, "RUNNING": 1},
                                "by_source": {"hero_loop": 2, "sparring": 1}}
    bin_skill = report["skills"][0]
    assert [(c["to_level"], c["minutes"]) for c in bin_skill["levels"]] == [(1, 9.0), (2, 25.0)]
    # Trials oldest first, with the global step of their checkpoint and the regime of every result.
    assert [t["evaluation"] for t in report["trials"]] == ["evaluations/e0", "evaluations/e1"]
    assert [t["global_step"] for t in report["trials"]] == [100, 400]
    assert [(r["level"], r["regime"]) for r in report["trials"][1]["results"]] == [(1, "exhaustive"),
                                                                                    (3, "held_out")]
    json.dumps(report)  # --json output is plain JSON

    tables = {title.split(" (")[0]: rows for title, _, rows in report_tables(report)}
    assert [row["skill"] for row in tables["Skills"]] == ["bin"]  # a disabled skill without history is left out
    assert [(r["level"], r["minutes"]) for r in tables["Levels reached"]] == [("L1", 9.0), ("L2", 25.0)]
    assert [(r["step"], r["regime"], r["correct"]) for r in tables["Trials"]] == [
        (100, "exhaustive", "20/50"), (400, "exhaustive", "48/50"), (400, "held_out", "5/50")]
    exhaustive = next(r for r in tables["Accuracy by level and regime"] if r["regime"] == "exhaustive")
    assert (exhaustive["trials"], exhaustive["first"], exhaustive["last"], exhaustive["best"]) == (2, 0.4, 0.96,
                                                                                                    0.96)


def test_report_without_the_curriculum_still_has_the_trainer_part():
    realm = SimpleNamespace(trainer=Trainer(), curriculum=Curriculum(down=True))
    report = campaign_report(realm, "campaigns/road", now=T0 + 60)
    assert report["curriculum_error"] == "UNAVAILABLE: connection refused"
    assert report["skills"] == [] and report["trials"] == [] and report["training"]["global_step"] == 1200
    summary = report_tables(report)[0][2]
    assert {"field": "curriculum", "value": "unreachable: UNAVAILABLE: connection refused"} in summary


def test_cli_prints_tables_and_json(monkeypatch, capsys):
    realm = SimpleNamespace(trainer=Trainer(), curriculum=Curriculum())
    monkeypatch.setattr("realm.cli.commands.trainer.client", lambda args: realm)
    campaign_report_cmd(argparse.Namespace(campaign="road", json=True))
    assert json.loads(capsys.readouterr().out)["campaign"] == "campaigns/road"
    campaign_report_cmd(argparse.Namespace(campaign="road", json=False))
    out = capsys.readouterr().out
    assert "Levels reached" in out and "held_out" in out and "345,000" in out


def test_report_has_the_loop_time_split_and_trial_cost():
    realm = SimpleNamespace(trainer=Trainer(), curriculum=Curriculum())
    report = campaign_report(realm, "road", now=T0 + 3600)
    loop = report["loop"]
    assert loop["seconds"] == {"training": 2700.0, "worker_startup": 300.0, "checkpoint_save": 60.0,
                               "waiting_for_data": 240.0, "idle": 300.0}
    assert (loop["busy_share"], loop["worker_starts"], loop["worker_reuses"]) == (0.75, 2, 28)
    # Only the trial with a start time has a cost; it ran 25 s of its 30 s since creation.
    assert [t["seconds"] for t in report["trials"]] == [None, 25.0]
    assert loop["trial_seconds"] == 25.0
    titles = [title for title, _, _ in report_tables(report)]
    assert "Loop time (trainer busy 75% of 60.0 min)" in titles
    rows = {title.split(" (")[0]: rows for title, _, rows in report_tables(report)}["Loop time"]
    assert rows[0] == {"phase": "training", "seconds": 2700.0, "share": "75.0%"}


def test_report_from_a_trainer_without_loop_time_leaves_it_out():
    report = campaign_report(SimpleNamespace(trainer=OldTrainer(), curriculum=Curriculum()), "road", now=T0 + 60)
    assert report["loop"] == {}
    assert report["training"]["global_step"] == 1200
