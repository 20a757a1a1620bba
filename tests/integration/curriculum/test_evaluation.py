"""A trial end to end: a real vault, a real inference service with the tiny hero, and the curriculum.

The hero is randomly initialised, so it answers nothing right: the checks are that every eval problem went
through inference, was graded, reported into the vault, attached to the checkpoint, and recorded — and that
0 % accuracy with a near-zero training loss is flagged as a broken eval rather than applied. The trial is
requested while inference is still down: it is retried, survives a restart of the curriculum, and succeeds
once inference comes up. Its wrong answers reach a
trainer (a stand-in gRPC server that records SubmitQuest) as a sparring quest, and a level-up recorded by
RecordEval lands in the vault ledger as a LEVEL_UP event.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time

import pytest
import torch

from fixtures.heroes import build_test_hero
from fixtures.kit import make_test_settings, serve_for_test, with_ports
from fixtures.ports import refusing_port
from realm.curriculum.v1 import curriculum_pb2 as pb
from realm.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from realm.vault.v1 import vault_pb2
from services.curriculum.app import setup as curriculum_setup
from services.curriculum.skills.base import eval_set
from services.curriculum.skills.registry import default_registry
from services.inference.app import setup as inference_setup
from services.kit.config import SERVICE_NAMES
from services.kit.server import ServiceServer
from services.vault.app import setup as vault_setup

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def settings_with_ports(tmp_path, ports: dict[str, int], **sections):
    services = {name: {"host": "local", "port": ports.get(name, 0)} for name in SERVICE_NAMES}
    return make_test_settings(tmp_path, services=services, **sections)


class QuestRecorder(trainer_pb2_grpc.TrainerServiceServicer):
    """The trainer's SubmitQuest contract, recording what arrives (the trainer itself is tested elsewhere)."""

    def __init__(self) -> None:
        self.quests: list[tuple[trainer_pb2.QuestHeader, bytes]] = []

    async def SubmitQuest(self, request_iterator, context):
        header, data = None, b""
        async for message in request_iterator:
            if message.HasField("header"):
                header = message.header
            else:
                data += message.chunk
        self.quests.append((header, data))
        return trainer_pb2.SubmitQuestResponse(quest=trainer_pb2.Quest(name=f"quests/s{len(self.quests)}"))


async def test_evaluate_checkpoint_through_inference_and_vault(tmp_path):
    torch.set_num_threads(1)
    hero = await asyncio.to_thread(build_test_hero, tmp_path / "hero")
    vault_settings = make_test_settings(tmp_path / "vault", vault={"zones": {"hot": {"path": "zones/hot"}},
                                                                    "default_zone": "hot"})
    recorder = QuestRecorder()

    async def trainer_setup(server):
        server.add(recorder, trainer_pb2_grpc.add_TrainerServiceServicer_to_server, "realm.trainer.v1.TrainerService")

    async with serve_for_test(vault_settings, "vault", vault_setup) as vault, \
            serve_for_test(make_test_settings(tmp_path / "trainer"), "trainer", trainer_setup) as trainer:
        admin = vault.connect()
        checkpoint = await asyncio.to_thread(admin.vault.push, hero, "checkpoint", display_name="tiny-hero",
                                             lineage={"campaign": "campaigns/trial", "global_step": 1200,
                                                      "metrics": {"loss": 0.001}})
        inference_settings = settings_with_ports(tmp_path / "inference", {"vault": vault.port},
                                                 inference={"max_batch_size": 8, "max_queue": 64})
        with refusing_port() as down:  # inference is down: nothing listens there, connecting is refused
            settings = settings_with_ports(
                tmp_path / "curriculum", {"vault": vault.port, "inference": down, "trainer": trainer.port},
                curriculum={"eval_window": 1, "trial_retry_initial_s": 0.2, "trial_retry_max_s": 0.5,
                            "sparring": {"share": 0.1, "max_rows": 3}})
            async with serve_for_test(settings, "curriculum", curriculum_setup) as curriculum:
                c = curriculum.connect().curriculum
                await asyncio.to_thread(c.configure, "trial", [pb.SkillSettings(skill="bin", enabled=True)])
                started = await asyncio.to_thread(c.EvaluateCheckpoint, pb.EvaluateCheckpointRequest(
                    campaign="campaigns/trial", checkpoint=checkpoint.name))
                ev = started.evaluation

                def retrying():
                    for _ in range(300):
                        current = c.GetEvaluation(pb.GetEvaluationRequest(name=ev.name)).evaluation
                        if current.attempts >= 2 and current.state == pb.EVALUATION_STATE_PENDING:
                            return current
                        time.sleep(0.05)
                    raise AssertionError(f"the trial was not retried: {current}")

                waiting = await asyncio.to_thread(retrying)
                assert "UNAVAILABLE" in waiting.error and waiting.HasField("next_attempt_time")
        # The curriculum restarts while the trial waits for its retry; inference has come up (port 0) meanwhile,
        # and the restarted curriculum is configured with the port it bound.
        inference_server = ServiceServer(inference_settings, "inference", port=0, metrics_port=False)
        await inference_setup(inference_server)
        settings = with_ports(settings, {"inference": await inference_server.start()})
        try:
            async with serve_for_test(settings, "curriculum", curriculum_setup) as curriculum:
                c = curriculum.connect().curriculum

                def watch():
                    seen = []
                    for update in c.WatchEvaluation(pb.WatchEvaluationRequest(name=ev.name), timeout=240):
                        seen.append(update.evaluation)
                    return seen

                updates = await asyncio.to_thread(watch)
                final = updates[-1]
                assert final.state == pb.EVALUATION_STATE_SUCCEEDED, final.error
                assert final.problems_done == final.problems_total == 50 and final.attempts >= 2
                assert len(updates) > 3  # progress was streamed, not just the end state
                assert final.error == ""
                (result,) = final.results
                frozen = eval_set(default_registry().get("bin"), 1)
                assert (result.skill, result.level, result.total, result.regime) == \
                    ("skills/bin", 1, 50, pb.REGIME_EXHAUSTIVE)
                assert result.eval_set_hash == frozen.content_hash

                # The report in the vault holds every response, and regrading them gives the same verdicts.
                target = tmp_path / "report"
                await asyncio.to_thread(admin.vault.pull, result.report_asset, target)
                report = json.loads(next(target.rglob("*.json")).read_text())
                assert report["regime"] == "exhaustive" and len(report["items"]) == 50
                skill = default_registry().get("bin")
                by_id = {p.id: p for p in frozen.problems}
                for item in report["items"]:
                    assert skill.grade(by_id[item["id"]], item["response"]).correct == item["correct"]
                assert sum(i["correct"] for i in report["items"]) == result.correct

                evals = await asyncio.to_thread(admin.vault.ListEvals, vault_pb2.ListEvalsRequest(
                    asset=checkpoint.name))
                assert [(e.skill, e.level, e.report_asset) for e in evals.evals] == \
                    [("bin", 1, result.report_asset)]

                progress = await asyncio.to_thread(c.progress, "trial")
                (point,) = progress.skills[0].accuracy_history
                assert (point.checkpoint, point.global_step, point.accuracy) == \
                    (checkpoint.name, 1200, result.accuracy)
                if result.accuracy == 0.0:
                    assert point.flagged and "looks broken" in point.flag_reason
                listed = await asyncio.to_thread(c.ListEvaluations, pb.ListEvaluationsRequest(
                    campaign="campaigns/trial"))
                assert [e.name for e in listed.evaluations] == [ev.name]  # the pre-existing push got no trial
                best = await asyncio.to_thread(admin.vault.ResolveAlias, vault_pb2.ResolveAliasRequest(
                    name="campaigns/trial/aliases/best/bin"))
                assert best.asset.name == checkpoint.name
                assert best.alias.metric_value == pytest.approx(result.accuracy)  # (L1 - 1) + accuracy

                # A checkpoint registered while the curriculum runs gets a trial without being asked.
                second_dir = tmp_path / "hero2"
                shutil.copytree(hero, second_dir)
                (second_dir / "note.txt").write_text("step 1300")
                second = await asyncio.to_thread(admin.vault.push, second_dir, "checkpoint",
                                                 lineage={"campaign": "campaigns/trial", "global_step": 1300,
                                                          "metrics": {"loss": 2.0}})

                def auto_trial():
                    for _ in range(600):
                        found = c.ListEvaluations(pb.ListEvaluationsRequest(campaign="campaigns/trial")).evaluations
                        auto = [e for e in found if e.checkpoint == second.name]
                        if auto and auto[0].state in (pb.EVALUATION_STATE_SUCCEEDED, pb.EVALUATION_STATE_FAILED):
                            return auto[0]
                        time.sleep(0.1)
                    raise AssertionError("no automatic trial for the new checkpoint")

                auto = await asyncio.to_thread(auto_trial)
                assert auto.state == pb.EVALUATION_STATE_SUCCEEDED, auto.error
                assert auto.results[0].total == 50
                progress = await asyncio.to_thread(c.progress, "trial")
                assert [(a.checkpoint, a.flagged) for a in progress.skills[0].accuracy_history][-1] == \
                    (second.name, False)  # a real loss (2.0): a 0 % eval is a result, not a broken eval

                # Wrong answers at the training level became one high-priority sparring quest per trial.
                def sparring():
                    for _ in range(200):
                        if recorder.quests:
                            return recorder.quests[0]
                        time.sleep(0.05)
                    raise AssertionError("no sparring quest reached the trainer")

                quest_header, quest_data = await asyncio.to_thread(sparring)
                assert (quest_header.campaign, quest_header.priority, quest_header.schema_id, quest_header.source) \
                    == ("trial", trainer_pb2.PRIORITY_HIGH, "chat_sft_v1", "sparring")
                assert dict(quest_header.labels) == {"skill": "bin", "level": "1"}
                rows = [json.loads(line) for line in quest_data.decode().splitlines()]
                assert len(rows) == 3 and all(r["metadata"]["kind"] == "sparring" for r in rows)
                assert rows[0]["messages"][-1]["content"].startswith("It is incorrect.")
                final = await asyncio.to_thread(c.GetEvaluation, pb.GetEvaluationRequest(name=ev.name))
                assert final.evaluation.sparring_quest in {"quests/s1", "quests/s2"}

                # A level-up (here from RecordEval) is appended to the vault ledger once.
                await asyncio.to_thread(c.record_eval, "trial", "bin", 1, 1.0, checkpoint=second.name)

                def level_ups():
                    for _ in range(200):
                        events = admin.vault.ListLedgerEvents(vault_pb2.ListLedgerEventsRequest(
                            campaign="campaigns/trial", page_size=1000)).events
                        found = [e for e in events if e.kind == vault_pb2.LEDGER_EVENT_KIND_LEVEL_UP]
                        if found:
                            return found
                        time.sleep(0.05)
                    raise AssertionError("no LEVEL_UP event in the vault ledger")

                (level_up,) = await asyncio.to_thread(level_ups)
                assert dict(level_up.attributes) == {
                    "skill": "bin", "from_level": "0", "to_level": "1", "checkpoint": second.name,
                    "mean_accuracy": "1.0000", "source": "curriculum"}
                assert level_up.asset == second.name
        finally:
            await inference_server.stop(0.5)
