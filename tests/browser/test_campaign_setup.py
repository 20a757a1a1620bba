"""The Campaigns page's setup panel in chromium: edit the mantra (checked through the trainer API) and see the
version move; a campaign with nothing trained yet shows nothing locked."""

from __future__ import annotations

import pytest

from realm.trainer.v1 import campaign_setup_pb2 as spb
from realm.trainer.v1 import trainer_pb2 as tpb

from ._services2 import realm2_for
from .conftest import open_page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def realm2(tmp_path_factory, tiny_hero_dir):
    with realm2_for(tmp_path_factory.mktemp("campaign-setup"), tiny_hero_dir) as running:
        yield running


def test_edit_the_mantra_on_the_campaigns_page(browser_context, realm2):
    page = browser_context.new_page()
    sign_in(page, realm2.url)
    open_page(page, realm2.url, "campaigns", f"?c={realm2.campaign}")
    page.wait_for_selector("[data-panel=setup] [data-field=mantra]", timeout=30_000)
    assert page.input_value("[data-field=mantra]").startswith("Today is {date}.")
    assert "Nothing locked yet" in page.inner_text("[data-list=locked]")
    page.fill("[data-field=mantra]", "<b>Short</b> answers only. Today is {date}.")
    page.select_option("[data-field=mantra_rule]", "MANTRA_RULE_REPLACE")
    page.click("form[data-form=mantra] button[type=submit]")
    page.wait_for_selector("[data-panel=setup] p.muted:has-text('Version 2')", timeout=30_000)
    mantra = realm2.admin.trainer.GetCampaign(tpb.GetCampaignRequest(name=realm2.campaign)).campaign.mantra
    assert (mantra.text, mantra.rule, mantra.version) == (
        "<b>Short</b> answers only. Today is {date}.", spb.MANTRA_RULE_REPLACE, 2)
    assert page.locator("[data-panel=setup] b").count() == 0  # the text stays text
