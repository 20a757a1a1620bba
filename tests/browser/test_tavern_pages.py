"""Each page's key action done through the UI in chromium and checked through the API, with the tiny hero really
training: quests (good + bad upload, reorder), Battle (pause / resume), Vault (pin, move an alias)."""

from __future__ import annotations

import time

import pytest

from realm.trainer.v1 import trainer_pb2 as tpb
from realm.vault.v1 import vault_pb2 as vpb

from .conftest import chat_rows, download_csv, open_page, screenshot, sign_in, watcher_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# The page stays closed for 60 s, while training logs at least CLOSED_STEPS steps no page saw.
CLOSED_SECONDS = 60
CLOSED_STEPS = 20
PAGES = ["battle", "quests", "guild", "vault", "oracle", "campaigns", "settings", "fleet"]


def wait_for(predicate, what: str, timeout: float = 120.0, interval: float = 0.2):
    """Poll the API until the system reaches a state (training runs on its own clock)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def run_state(realm) -> str:
    status = realm.admin.trainer.GetRunStatus(tpb.GetRunStatusRequest()).status
    return tpb.RunState.Name(status.state)


def quests_by_name(realm) -> dict[str, tpb.Quest]:
    found = realm.admin.trainer.ListQuests(tpb.ListQuestsRequest(campaign=realm.campaign, page_size=1000)).quests
    return {q.display_name: q for q in found}


@pytest.fixture(scope="module")
def trained(realm):
    """One short quest trained to the end, so the vault holds checkpoints; then training is paused."""
    quest = realm.submit(chat_rows(200), "warm-up")

    def completed() -> bool:
        found = realm.admin.trainer.GetQuest(tpb.GetQuestRequest(name=quest.name)).quest
        assert found.state != tpb.QUEST_STATE_FAILED, found.state_reason
        return found.state == tpb.QUEST_STATE_COMPLETED
    wait_for(completed, "the warm-up quest to complete", timeout=300)
    wait_for(lambda: len(checkpoints(realm)) >= 1, "a registered checkpoint")
    realm.admin.trainer.PauseTraining(tpb.PauseTrainingRequest(reason="tests upload into a paused queue"))
    wait_for(lambda: run_state(realm) in ("RUN_STATE_PAUSED", "RUN_STATE_IDLE"), "training paused")
    return quest


def checkpoints(realm) -> list[vpb.Asset]:
    return list(realm.admin.vault.ListAssets(vpb.ListAssetsRequest(kind=vpb.ASSET_KIND_CHECKPOINT,
                                                                   campaign=realm.campaign, page_size=1000)).assets)


def test_upload_good_and_bad_quests_shows_queued_and_the_line_report(page, realm, trained, tmp_path):
    good = tmp_path / "good-quest.jsonl"
    good.write_bytes(chat_rows(40))
    bad = tmp_path / "bad-quest.jsonl"
    bad.write_bytes(chat_rows(2) + b'{"messages": [{"role": "wizard", "content": "hi"}]}\nnot json at all\n')
    open_page(page, realm.url, "quests")
    page.set_input_files("[data-control=file]", str(good))
    page.fill("[data-control=display-name]", "good-quest")
    page.click("[data-action=upload]")
    page.wait_for_selector("[data-upload=queued]")
    assert quests_by_name(realm)["good-quest"].state == tpb.QUEST_STATE_QUEUED
    page.wait_for_selector("tr[data-state=queued] >> text=good-quest")

    page.set_input_files("[data-control=file]", str(bad))
    page.fill("[data-control=display-name]", "bad-quest")
    page.click("[data-action=upload]")
    page.wait_for_selector("[data-upload=rejected]")
    rejected = quests_by_name(realm)["bad-quest"]
    assert rejected.state == tpb.QUEST_STATE_REJECTED
    bad_lines = sorted({f.line for f in rejected.validation.findings if f.line})
    assert bad_lines and set(bad_lines) <= {3, 4}
    for line in bad_lines:  # the report in the page names the same lines as the API
        assert page.locator(f".result [data-report] tr[data-line='{line}']").count() >= 1
    page.wait_for_selector(f"tr[data-state=rejected][data-quest='{rejected.name}']")
    screenshot(page, "quests-rejected-report")
    assert watcher_report(page)["csp"] == []


def test_reorder_by_keyboard_and_by_drag(page, realm, trained):
    for name in ("first", "second", "third"):
        realm.submit(chat_rows(20), name)

    def order() -> list[str]:
        queued = [q for q in quests_by_name(realm).values() if q.state == tpb.QUEST_STATE_QUEUED
                  and q.priority == tpb.PRIORITY_NORMAL and q.display_name in ("first", "second", "third")]
        return [q.display_name for q in sorted(queued, key=lambda q: q.position)]

    assert order() == ["first", "second", "third"]
    open_page(page, realm.url, "quests")
    page.locator("tr[data-quest]", has_text="first").locator("[data-action=down]").click()
    wait_for(lambda: order() == ["second", "first", "third"], "first moved down one place")
    page.wait_for_function("() => [...document.querySelectorAll('tr[data-state=queued] strong')]"
                           ".map(e => e.textContent).join(',').includes('second,first,third')")
    page.locator("tr[data-quest]", has_text="third").drag_to(page.locator("tr[data-quest]", has_text="second"))
    wait_for(lambda: order() == ["third", "second", "first"], "third dragged before second")


def test_pause_and_resume_from_battle(page, realm, trained):
    realm.submit(chat_rows(4000), "long-run")
    open_page(page, realm.url, "battle")
    page.click("[data-action=resume]")
    wait_for(lambda: run_state(realm) in ("RUN_STATE_STARTING", "RUN_STATE_TRAINING"), "training resumed")
    page.wait_for_selector("[data-run=state] .badge.b-training", timeout=120_000)
    screenshot(page, "battle-training")
    page.click("[data-action=pause]")
    wait_for(lambda: run_state(realm) == "RUN_STATE_PAUSED", "training paused")
    page.wait_for_selector("[data-run=state] .badge.b-paused", timeout=60_000)


def test_pin_a_checkpoint_and_move_an_alias(page, realm, trained):
    assets = sorted(checkpoints(realm), key=lambda a: a.lineage.global_step)
    target = assets[0]
    open_page(page, realm.url, "vault", f"?asset={target.name}")
    page.wait_for_selector(f"[data-detail=name]:text-is('{target.name}')")
    page.click("[data-action=pin]")
    wait_for(lambda: realm.admin.vault.GetAsset(vpb.GetAssetRequest(name=target.name)).asset.pinned, "pinned")
    page.wait_for_selector(f".vrow[data-asset='{target.name}'] .chip.pin")
    page.wait_for_selector("[data-vault=detail] [data-action=unpin]")  # the detail is redrawn after the pin
    page.fill("[data-control=alias]", "stable")
    page.click("[data-action=move-alias]")

    def alias_target() -> str:
        try:
            return realm.admin.vault.ResolveAlias(vpb.ResolveAliasRequest(
                name=f"{realm.campaign}/aliases/stable")).alias.asset
        except Exception:
            return ""
    assert wait_for(lambda: alias_target() == target.name, "alias stable on the checkpoint")
    page.wait_for_selector(f".vrow[data-asset='{target.name}'] [data-alias=stable]")
    screenshot(page, "vault-detail")
    realm.admin.vault.SetRetentionPolicy(vpb.SetRetentionPolicyRequest(policy=vpb.RetentionPolicy(
        campaign=realm.campaign, keep_latest=0, keep_pinned=True, keep_best_per_skill=True, enabled=True)))
    page.reload()
    page.wait_for_selector("[data-vault=policy]:has-text('keep pinned')")
    page.click("[data-action=dry-run]")
    page.wait_for_selector("[data-vault=gc] table, [data-vault=gc] .error")
    report = page.locator("[data-vault=gc]").inner_text()
    assert page.locator(f"[data-vault=gc] tr[data-asset='{target.name}']").count() == 1, report
    expected = realm.admin.vault.RunGc(vpb.RunGcRequest(campaign=realm.campaign, dry_run=True)).decisions
    for decision in expected:  # the page shows the vault's own decision and reasons for each checkpoint
        shown = page.locator(f"[data-vault=gc] tr[data-asset='{decision.asset}']").inner_text()
        assert ("keep" if decision.keep else "delete") in shown
        assert all(reason in shown for reason in decision.reasons)
    assert "pinned" in page.locator(f"[data-vault=gc] tr[data-asset='{target.name}']").inner_text()
    assert watcher_report(page)["csp"] == []


def logged_steps(realm) -> list[int]:
    """Every logged step of the campaign, one bucket per step (fewer steps than max_points)."""
    series = realm.admin.trainer.GetMetricSeries(tpb.GetMetricSeriesRequest(campaign=realm.campaign, max_points=20000))
    assert series.bucket_steps == 1
    return [b.last_step for b in series.buckets]


def current_step(realm) -> int:
    return realm.admin.trainer.GetRunStatus(tpb.GetRunStatusRequest()).status.last_step.global_step


def test_reattach_after_closing_the_page_keeps_one_point_per_step(browser_context, realm, trained):
    realm.submit(chat_rows(6000), "marathon")
    realm.admin.trainer.ResumeTraining(tpb.ResumeTrainingRequest())
    page = browser_context.new_page()
    sign_in(page, realm.url)
    open_page(page, realm.url, "battle")
    seen = current_step(realm)
    page.wait_for_function(f"() => Number(document.querySelector('#chart-loss').dataset.lastStep) > {seen}",
                           timeout=120_000)  # live steps are arriving
    page.close()
    closed_at, closed_step = time.monotonic(), current_step(realm)
    wait_for(lambda: current_step(realm) >= closed_step + CLOSED_STEPS, "training to go on while no page is open",
             timeout=300)
    # Paused for the rest of the closure: a reloaded chart holds one point per step only up to 2,000 steps, and
    # a minute of training at full speed logged more than that on a fast CPU (bf16: 2,420 steps).
    realm.admin.trainer.PauseTraining(tpb.PauseTrainingRequest(reason="hold the series while the page is closed"))
    wait_for(lambda: run_state(realm) == "RUN_STATE_PAUSED", "training paused while closed")
    wait_for(lambda: time.monotonic() - closed_at >= CLOSED_SECONDS, "the page to stay closed", timeout=300)
    realm.admin.trainer.ResumeTraining(tpb.ResumeTrainingRequest())
    page = browser_context.new_page()  # same browser profile: the session cookie is still there
    page.goto(realm.url + "/")
    open_page(page, realm.url, "battle")
    page.wait_for_function(f"() => Number(document.querySelector('#chart-loss').dataset.lastStep) > {current_step(realm)}",
                           timeout=120_000)  # and live again after the reload
    realm.admin.trainer.PauseTraining(tpb.PauseTrainingRequest(reason="freeze the series to compare"))
    wait_for(lambda: run_state(realm) == "RUN_STATE_PAUSED", "training paused")
    steps = logged_steps(realm)
    page.wait_for_function(f"() => Number(document.querySelector('#chart-loss').dataset.lastStep) === {steps[-1]}")
    drawn = [int(row["last_step"]) for row in download_csv(page, "loss")]
    assert drawn == steps  # every logged step exactly once, in order: none lost across the closure, none doubled
    assert len(steps) == len(set(steps)) and steps[-1] >= closed_step + CLOSED_STEPS


@pytest.mark.parametrize(("width", "height", "kind"), [(1280, 900, "desktop"), (390, 844, "phone")])
def test_screenshots_of_every_page(browser_context, realm, trained, width, height, kind):
    page = browser_context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    sign_in(page, realm.url)
    for name in PAGES:
        page.goto(f"{realm.url}/#/{name}")
        page.wait_for_selector(f"section.page[data-page={name}]")
        page.wait_for_load_state("networkidle")
        screenshot(page, f"{kind}-{name}")
        assert watcher_report(page)["csp"] == [], name
    page.goto(realm.url + "/")
    page.click("[data-action=sign-out]")
    page.wait_for_selector("form.signin")
    screenshot(page, f"{kind}-sign-in")


PHONE_WIDTH = 375  # the narrowest phone the Tavern is laid out for


def test_no_page_scrolls_sideways_on_a_375_px_phone(browser_context, realm, trained):
    page = browser_context.new_page()
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
    page.goto(realm.url + "/")
    page.wait_for_selector("form.signin")
    widths = {"sign-in": page.evaluate("() => document.documentElement.scrollWidth")}
    sign_in(page, realm.url)
    for name in PAGES:
        open_page(page, realm.url, name)
        page.wait_for_load_state("networkidle")
        screenshot(page, f"phone-{PHONE_WIDTH}-{name}")
        widths[name] = page.evaluate("() => document.documentElement.scrollWidth")
    assert {name: width for name, width in widths.items() if width > PHONE_WIDTH} == {}
