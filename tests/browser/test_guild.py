"""Guild Hall in chromium: a real trial of a checkpoint (curriculum -> inference), then the skill's levels, its
accuracy history and the drill-down to each eval problem, all equal to what the API and the vault report say."""

from __future__ import annotations

import json
import time

import pytest

from realm.curriculum.v1 import curriculum_pb2 as cpb

from ._services2 import realm2_for
from .conftest import open_page, screenshot, sign_in, watcher_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def realm2(tmp_path_factory, tiny_hero_dir):
    with realm2_for(tmp_path_factory.mktemp("guild"), tiny_hero_dir, auto_evaluate=True) as running:
        yield running


@pytest.fixture(scope="module")
def trial(realm2):
    realm2.admin.curriculum.configure(realm2.campaign, [cpb.SkillSettings(skill="bin", enabled=True, weight=1.0)])
    checkpoint = realm2.push_checkpoint(30)
    deadline = time.monotonic() + 600
    while True:
        found = [e for e in realm2.admin.curriculum.ListEvaluations(cpb.ListEvaluationsRequest(
            campaign=realm2.campaign)).evaluations if e.checkpoint == checkpoint.name]
        if found and found[0].state == cpb.EVALUATION_STATE_SUCCEEDED:
            return found[0]
        assert time.monotonic() < deadline, f"no finished trial of {checkpoint.name}: {found}"
        time.sleep(1)


def report_of(realm2, result, tmp_path) -> dict:
    target = tmp_path / "report"
    realm2.admin.vault.pull(result.report_asset, target)
    return json.loads(next(target.rglob("*.json")).read_text())


def test_levels_rule_history_and_the_drill_down_to_each_problem(browser_context, realm2, trial, tmp_path):
    page = browser_context.new_page()
    sign_in(page, realm2.url)
    open_page(page, realm2.url, "guild")
    progress = realm2.admin.curriculum.progress(realm2.campaign)
    bin_progress = next(s for s in progress.skills if s.skill == "skills/bin")
    card = page.locator("section.skill[data-skill=bin]")
    assert card.locator(f"li.rung[data-level='{bin_progress.training_level}']").get_attribute("data-state") == "training"
    assert "last 3 trials" in card.locator("p.rule").text_content()
    assert card.locator("canvas").count() == 1
    result = trial.results[0]
    page.click(f"tr[data-evaluation='{trial.name}'] button[data-action=problems]")
    page.wait_for_selector("[data-panel=problems] tr[data-problem]")
    report = report_of(realm2, result, tmp_path)
    rows = page.eval_on_selector_all("[data-panel=problems] tr[data-problem]", """rows => rows.map(r => ({
        id: r.dataset.problem, verdict: r.dataset.verdict,
        cells: [...r.querySelectorAll('pre.cell')].map(c => c.textContent)}))""")
    assert len(rows) == len(report["items"]) == result.total
    for row, item in zip(rows, report["items"], strict=True):
        assert row["id"] == item["id"] and row["verdict"] == ("correct" if item["correct"] else "wrong")
        assert row["cells"] == [item["prompt"], item["response"], item["expected"]]
    assert sum(r["verdict"] == "correct" for r in rows) == result.correct
    screenshot(page, "guild")
    page.set_viewport_size({"width": 375, "height": 800})
    screenshot(page, "guild-phone")
    report = watcher_report(page)
    assert report["csp"] == [] and report["errors"] == []
