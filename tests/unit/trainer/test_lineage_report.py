"""The lineage report's rules: generator from the sidecar (labels as fallback), checkpoints by step, groups by
generator and version, and what a quest without a sidecar shows."""

from __future__ import annotations

import json

from services.trainer.lineage_report import campaign_lineage
from services.trainer.models import Priority, Quest, QuestState


def quest(qid: str, created: float, sidecar: dict | str = "", labels: dict | None = None, rows: int = 10,
          validator: str = "curriculum/validation@2") -> Quest:
    return Quest(quest_id=qid, display_name=qid, campaign="campaigns/c", priority=Priority.NORMAL,
                 state=QuestState.COMPLETED, position=0, schema_id="chat_sft_v1",
                 sidecar_json=json.dumps(sidecar) if isinstance(sidecar, dict) else sidecar, rows=rows,
                 sha256=qid * 4, validation={"validator_version": validator} if validator else {},
                 labels=labels or {}, create_time=created)


def outbox(quest_name: str, step: int, asset: str = "", state: str = "DONE") -> dict:
    return {"quest": quest_name, "global_step": step, "asset": asset, "state": state}


def test_quests_in_creation_order_with_their_checkpoints_and_groups():
    bin_a = quest("a", 2.0, {"generator": "curriculum/bin", "generator_version": 1})
    bin_b = quest("b", 3.0, {"generator": "curriculum/bin", "generator_version": 1}, rows=5)
    sparring = quest("s", 1.0, "", labels={"skill": "bin"}, validator="")
    rows = [outbox("quests/a", 8, "assets/a8"), outbox("quests/a", 4, "assets/a4"),
            outbox("quests/b", 12, "", "PENDING"), outbox("quests/other", 1, "assets/x")]

    report = campaign_lineage("campaigns/c", [bin_b, sparring, bin_a], rows)

    assert [q.quest.quest_id for q in report.quests] == ["s", "a", "b"]
    first_bin = report.quests[1]
    assert (first_bin.generator, first_bin.generator_version) == ("curriculum/bin", "1")
    assert [(c.asset, c.global_step, c.state) for c in first_bin.checkpoints] == [("assets/a4", 4, "done"),
                                                                                  ("assets/a8", 8, "done")]
    assert [(c.asset, c.state) for c in report.quests[2].checkpoints] == [("", "pending")]
    assert report.quests[0].generator == "" and report.quests[0].validator_version == ""
    groups = {(g.generator, g.generator_version): g for g in report.generators}
    assert groups[("curriculum/bin", "1")].quests == 2 and groups[("curriculum/bin", "1")].rows == 15
    assert groups[("curriculum/bin", "1")].checkpoints == 3
    assert groups[("curriculum/bin", "1")].validator_versions == ("curriculum/validation@2",)
    assert groups[("", "")].quests == 1 and groups[("", "")].validator_versions == ()


def test_labels_stand_in_for_a_missing_or_broken_sidecar():
    labelled = quest("l", 1.0, "{not json", labels={"generator": "upload/script", "generator_version": "7"})
    item = campaign_lineage("campaigns/c", [labelled], []).quests[0]
    assert (item.generator, item.generator_version) == ("upload/script", "7") and item.checkpoints == ()
