"""Quests page, in chromium: a queued quest's first rows come from the trainer's own copy (GetQuestPreview), and
each queued position shows a start time and a duration equal to EstimateQuestQueue's (no more "after the quests
ahead"), once the campaign has trained a quest and so has a throughput."""

from __future__ import annotations

import json
import time

import pytest
from google.protobuf import json_format

from realm.trainer.v1 import quest_view_pb2 as qpb
from realm.trainer.v1 import trainer_pb2 as tpb

from .conftest import chat_rows, open_page, screenshot, watcher_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def wait_for(predicate, what: str, timeout: float = 300.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return value


def quest_state(realm, name: str) -> int:
    found = realm.admin.trainer.GetQuest(tpb.GetQuestRequest(name=name)).quest
    assert found.state != tpb.QUEST_STATE_FAILED, found.state_reason
    return found.state


def test_queued_quests_show_their_first_rows_and_an_eta_per_position(page, realm):
    warm_up = realm.submit(chat_rows(24), "eta warm-up")
    wait_for(lambda: quest_state(realm, warm_up.name) == tpb.QUEST_STATE_COMPLETED, "the warm-up quest")
    realm.admin.trainer.PauseTraining(tpb.PauseTrainingRequest(reason="keep the next quests queued"))
    first = realm.submit(chat_rows(40), "first in line")
    second = realm.submit(chat_rows(16, start=100), "second in line")
    for quest in (first, second):
        wait_for(lambda q=quest: quest_state(realm, q.name) == tpb.QUEST_STATE_QUEUED, "queued")
    estimate = realm.admin.trainer.EstimateQuestQueue(qpb.EstimateQuestQueueRequest(campaign=realm.campaign))
    by_quest = {e.quest: e for e in estimate.quests}
    assert by_quest[second.name].known and by_quest[second.name].starts_in_seconds > 0

    open_page(page, realm.url, "quests")
    for quest in (first, second):
        cell = page.locator(f"tr[data-quest='{quest.name}'] [data-eta]")
        assert cell.get_attribute("data-eta") == "known"
        assert int(cell.get_attribute("data-starts-in")) == round(by_quest[quest.name].starts_in_seconds)
        assert "starts in" in cell.inner_text() and "takes" in cell.inner_text()
    assert "after the quests ahead" not in page.inner_text("[data-queue=list]")

    page.click(f"tr[data-quest='{second.name}'] [data-action=details]")
    preview = page.locator(f"[data-preview='{second.name}'] li")
    preview.first.wait_for()
    api_rows = realm.admin.trainer.GetQuestPreview(qpb.GetQuestPreviewRequest(name=second.name, rows=5)).rows
    sent = [json.loads(line) for line in chat_rows(16, start=100).decode().splitlines()[:5]]
    assert [json_format.MessageToDict(r.row) for r in api_rows] == sent
    shown = preview.all_inner_texts()
    assert len(shown) == 5
    for text, row in zip(shown, sent, strict=True):
        assert all(f"{m['role']}: {m['content']}" in text for m in row["messages"])
    screenshot(page, "quests-eta-preview")
    report = watcher_report(page)
    assert report["csp"] == [] and report["errors"] == []
    realm.admin.trainer.ResumeTraining(tpb.ResumeTrainingRequest())
