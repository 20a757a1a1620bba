"""Campaigns in chromium: create one with skills, weights and a preset, activate it, archive another, read its
timeline — each checked through the API (trainer + curriculum); names with HTML stay text."""

from __future__ import annotations

import pytest

from realm.trainer.v1 import trainer_pb2 as tpb

from ._services2 import realm2_for
from .conftest import open_page, screenshot, sign_in, watcher_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]
XSS = '<img src=x onerror="window.__xss=1">'


@pytest.fixture(scope="module")
def realm2(tmp_path_factory, tiny_hero_dir):
    with realm2_for(tmp_path_factory.mktemp("campaigns"), tiny_hero_dir) as running:
        yield running


@pytest.fixture
def page2(browser_context, realm2):
    page = browser_context.new_page()
    sign_in(page, realm2.url)
    return page


def campaign(realm2, name: str) -> tpb.Campaign:
    return realm2.admin.trainer.GetCampaign(tpb.GetCampaignRequest(name=name)).campaign


def test_create_and_activate_a_campaign_with_weights_and_a_preset(page2, realm2):
    open_page(page2, realm2.url, "campaigns")
    page2.fill("[data-field=display_name]", "Road to L3")
    page2.fill("[data-field=campaign_id]", "road")
    page2.select_option("[data-field=hero]", "heroes/tiny")
    page2.fill("[data-weight=bin]", "2.5")
    page2.uncheck("[data-skill=syllo]")
    page2.select_option("[data-field=preset]", "weighted")
    page2.check("[data-field=activate]")
    page2.click("form[aria-label='New campaign'] button[type=submit]")
    page2.wait_for_selector("[data-panel=report] code:text('campaigns/road')", timeout=30_000)
    created = campaign(realm2, "campaigns/road")
    assert created.state == tpb.CAMPAIGN_STATE_ACTIVE and list(created.skills) == ["bin"]
    assert campaign(realm2, realm2.campaign).state != tpb.CAMPAIGN_STATE_ACTIVE  # one active campaign at a time
    progress = realm2.admin.curriculum.progress("campaigns/road")
    weights = {s.skill: (s.enabled, s.weight) for s in progress.skills}
    assert progress.preset == "weighted" and weights["skills/bin"] == (True, 2.5)
    assert weights["skills/syllo"][0] is False
    row = page2.locator("tr[data-campaign='campaigns/road']")
    assert row.get_attribute("data-state") == "active"
    assert page2.locator("[data-table=Campaign] td", has_text="campaigns/road").count() == 1
    screenshot(page2, "campaigns")
    page2.set_viewport_size({"width": 375, "height": 800})
    screenshot(page2, "campaigns-phone")


def test_archive_and_reactivate_through_the_list(page2, realm2):
    open_page(page2, realm2.url, "campaigns")
    page2.click(f"tr[data-campaign='{realm2.campaign}'] button[data-action=archive]")
    page2.wait_for_selector(f"tr[data-campaign='{realm2.campaign}'][data-state=archived]")
    assert campaign(realm2, realm2.campaign).state == tpb.CAMPAIGN_STATE_ARCHIVED


def test_a_bad_id_shows_the_trainers_message_and_creates_nothing(page2, realm2):
    open_page(page2, realm2.url, "campaigns")
    page2.fill("[data-field=display_name]", "Bad id")
    page2.evaluate("() => document.querySelector('[data-field=campaign_id]').removeAttribute('pattern')")
    page2.fill("[data-field=campaign_id]", "Bad Id!")
    page2.click("form[aria-label='New campaign'] button[type=submit]")
    message = page2.wait_for_selector("form[aria-label='New campaign'] p.error:not(:empty)")
    assert "campaign_id" in message.text_content()
    names = [c.display_name for c in realm2.admin.trainer.ListCampaigns(tpb.ListCampaignsRequest()).campaigns]
    assert "Bad id" not in names


def test_campaign_names_with_html_render_as_text(page2, realm2):
    realm2.admin.trainer.CreateCampaign(tpb.CreateCampaignRequest(campaign=tpb.Campaign(
        display_name=XSS, hero="heroes/tiny"), campaign_id="xss"))
    open_page(page2, realm2.url, "campaigns", "?c=campaigns/xss")
    assert page2.locator("tr[data-campaign='campaigns/xss'] a").text_content() == XSS
    assert page2.locator("[data-panel=report] h2").first.text_content() == XSS
    for name in ("guild", "settings"):
        open_page(page2, realm2.url, name, "?c=campaigns/xss" if name == "guild" else "")
    assert page2.evaluate("() => window.__xss") is None
    assert page2.locator("img[src=x]").count() == 0
    report = watcher_report(page2)
    assert report["csp"] == [] and report["errors"] == []
