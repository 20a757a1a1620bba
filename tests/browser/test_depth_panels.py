"""Depth panels in chromium: the idle-GPU task registry on Fleet, passives and data lineage on the Campaigns
detail, and the training loop's time split on Battle — each checked against the services' own API (SDK)."""

from __future__ import annotations

import pytest

from realm.curriculum.v1 import passives_pb2 as ppb
from realm.inference.v1 import tasks_pb2 as kpb
from realm.sdk.tasks import cancel_task, create_task, get_task, list_tasks
from realm.trainer.v1 import lineage_pb2 as lpb
from realm.trainer.v1 import loop_time_pb2 as ltpb

from ._services2 import realm2_for
from .conftest import chat_rows, open_page, screenshot, sign_in, watcher_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ENDED = ("succeeded", "failed", "cancelled")
WORDS = {kpb.TASK_STATE_QUEUED: "queued", kpb.TASK_STATE_RUNNING: "running", kpb.TASK_STATE_SUCCEEDED: "succeeded",
         kpb.TASK_STATE_FAILED: "failed", kpb.TASK_STATE_CANCELLED: "cancelled"}


@pytest.fixture(scope="module")
def realm2(tmp_path_factory, tiny_hero_dir):
    with realm2_for(tmp_path_factory.mktemp("depth"), tiny_hero_dir) as running:
        yield running


@pytest.fixture
def page2(browser_context, realm2):
    page = browser_context.new_page()
    sign_in(page, realm2.url)
    return page


def test_tasks_panel_lists_the_registry_and_queues_a_task(page2, realm2):
    made = create_task(realm2.admin, "eval", {"campaign": realm2.campaign, "checkpoint": "assets/none"}, priority=7)
    cancel_task(realm2.admin, made.name)  # queued -> cancelled at once (or cancel requested if already claimed)
    open_page(page2, realm2.url, "fleet")
    row = f"tr[data-task='{made.name}']"
    page2.wait_for_selector(f"{row}[data-kind=eval]", timeout=60_000)
    page2.wait_for_function(f"() => {list(ENDED)}.includes(document.querySelector(\"{row}\")?.dataset.state)",
                            timeout=60_000)
    assert page2.locator(row).get_attribute("data-state") == WORDS[get_task(realm2.admin, made.name).state]
    assert page2.locator(f"{row} td[data-label=Priority]").text_content() == "7"

    page2.select_option("[data-field=task-kind]", "sparring")
    page2.fill("[data-field=task-priority]", "12")
    page2.fill("[data-field=task-parameters]", f"campaign={realm2.campaign}\ncheckpoint=assets/none-2")
    page2.click("[data-action=queue-task]")
    page2.wait_for_selector("tr[data-kind=sparring]", timeout=60_000)
    tasks, _ = list_tasks(realm2.admin, kind="sparring")
    assert [(t.priority, dict(t.parameters)) for t in tasks] == [
        (12, {"campaign": realm2.campaign, "checkpoint": "assets/none-2"})]
    screenshot(page2, "depth-tasks")
    cancel_task(realm2.admin, tasks[0].name)

    page2.fill("[data-field=task-parameters]", "no equals sign")
    page2.click("[data-action=queue-task]")
    assert "expected key=value" in page2.locator("form[aria-label='Queue a task'] p.error").text_content()
    assert len(list_tasks(realm2.admin, kind="sparring")[0]) == 1
    assert watcher_report(page2) == {"csp": [], "errors": []}


def test_campaign_detail_shows_passives_and_lineage(page2, realm2):
    quest = realm2.submit(chat_rows(8), "lineage quest")
    lineage = realm2.admin.trainer.GetCampaignLineage(lpb.GetCampaignLineageRequest(campaign=realm2.campaign))
    shown = next(q for q in lineage.quests if q.quest == quest.name)
    assert shown.sha256
    passives = realm2.admin.curriculum.GetPassivesReport(ppb.GetPassivesReportRequest(campaign=realm2.campaign))
    open_page(page2, realm2.url, "campaigns", f"?c={realm2.campaign}")
    row = page2.locator(f"[data-panel=lineage] tr[data-quest='{quest.name}']")
    assert row.get_attribute("data-sha256") == shown.sha256
    assert row.locator("td[data-label=sha256]").text_content() == shown.sha256
    assert row.locator("td[data-label=Rows]").text_content() == str(shown.rows)
    assert page2.locator("[data-panel=lineage] table[data-list=generators] tbody tr").count() == len(
        lineage.generators)
    assert page2.locator("[data-panel=passives] table[data-list=passive-skills] tbody tr").count() == len(
        passives.skills)
    assert list(passives.skills) == []  # nothing scheduled passives in this realm: the panel says so
    passives_text = page2.locator("[data-panel=passives]").text_content()
    assert "No passive measured yet." in passives_text
    assert f"sets {', '.join(passives.sets) or 'none'}" in passives_text
    page2.locator("[data-panel=lineage]").scroll_into_view_if_needed()
    screenshot(page2, "depth-campaign-lineage")
    assert watcher_report(page2) == {"csp": [], "errors": []}


def test_battle_shows_the_loop_time_split(page2, realm2):
    loop = realm2.admin.trainer.GetLoopTime(ltpb.GetLoopTimeRequest(campaign=realm2.campaign)).loop_time
    assert loop.campaign == realm2.campaign
    open_page(page2, realm2.url, "battle")
    page2.wait_for_selector("[data-panel=loop-time][data-loaded=true]", timeout=60_000)
    phases = page2.eval_on_selector_all("[data-panel=loop-time] tr[data-phase]",
                                        "rows => rows.map(r => r.dataset.phase)")
    assert phases == ["training_seconds", "worker_startup_seconds", "checkpoint_save_seconds",
                      "waiting_for_data_seconds", "idle_seconds", "upload_seconds"]
    assert page2.locator("[data-loop=busy]").text_content().startswith("trainer busy ")
    screenshot(page2, "depth-battle-time-split")
    assert watcher_report(page2) == {"csp": [], "errors": []}
