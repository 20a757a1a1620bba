"""Fleet in chromium: every service's state live from the warden's WatchFleet stream; a service that stops turns
unreachable on the open page, with its alert, as the warden's API says."""

from __future__ import annotations

import pytest

from realm.warden.v1 import warden_pb2 as wpb

from ._services2 import realm2_for
from .conftest import open_page, screenshot, sign_in, watcher_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WORDS = {wpb.SERVING_STATE_SERVING: "serving", wpb.SERVING_STATE_NOT_SERVING: "not serving",
         wpb.SERVING_STATE_UNREACHABLE: "unreachable", wpb.SERVING_STATE_UNSPECIFIED: "unknown"}


@pytest.fixture(scope="module")
def realm2(tmp_path_factory, tiny_hero_dir):
    with realm2_for(tmp_path_factory.mktemp("fleet"), tiny_hero_dir) as running:
        yield running


def fleet(realm2) -> wpb.FleetStatus:
    return realm2.admin.warden.GetFleetStatus(wpb.GetFleetStatusRequest()).status


def shown_states(page) -> dict[str, str]:
    return page.eval_on_selector_all("tr[data-service]", "rows => Object.fromEntries(rows.map("
                                     "r => [r.dataset.service, r.dataset.state]))")


def test_fleet_page_follows_the_warden_live(browser_context, realm2):
    page = browser_context.new_page()
    sign_in(page, realm2.url)
    open_page(page, realm2.url, "fleet")
    page.wait_for_function("() => ['vault','curriculum','inference','trainer','gateway'].every(s => "
                           "document.querySelector(`tr[data-service=${s}][data-state=serving]`))", timeout=60_000)
    status = fleet(realm2)
    api = {s.service: WORDS[s.state] for h in status.hosts for s in h.services}
    assert {k: v for k, v in shown_states(page).items() if k != "warden"} == {k: v for k, v in api.items()
                                                                            if k != "warden"}
    assert page.locator("tr[data-service=vault] td[data-label=Latency]").text_content().endswith("ms")
    screenshot(page, "fleet")
    realm2.stop("curriculum")  # the open page must change without a reload
    page.wait_for_selector("tr[data-service=curriculum]:not([data-state=serving])", timeout=60_000)
    page.wait_for_selector("li[data-alert=curriculum]", timeout=60_000)
    status = fleet(realm2)
    down = next(s for h in status.hosts for s in h.services if s.service == "curriculum")
    assert down.state != wpb.SERVING_STATE_SERVING
    assert "curriculum" in {a.subject for a in status.alerts}
    assert page.locator("[data-stream=state]").text_content() == "● live"
    screenshot(page, "fleet-degraded")
    page.set_viewport_size({"width": 375, "height": 800})
    screenshot(page, "fleet-phone")
    assert watcher_report(page)["errors"] == []
