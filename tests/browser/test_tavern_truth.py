"""Charts that tell the truth, and names that stay text.

Smoothing: the trainer's event log is fed step events directly (standing in for a worker: 10,000 real training
steps would take far too long here); the real trainer serves them, the real gateway relays them, and the page's
chart smooths and draws them. XSS: a campaign, quests and a checkpoint named with HTML/JS payloads, created
through the services' own APIs, render as text on every page; no script runs and no CSP violation is reported.
"""

from __future__ import annotations

import math

import pytest

from realm.trainer.v1 import trainer_pb2 as tpb
from services.trainer.models import EventKind

from .conftest import chat_rows, download_csv, open_page, realm_for, screenshot, sign_in, watcher_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAYLOADS = ['<img src=x onerror="window.__xss=1">', "<script>window.__xss=2</script>",
            '"><svg onload="window.__xss=3">']
CAMPAIGN_NAME = f"Campaign {PAYLOADS[0]}"
WEIGHT = 0.9


def loss_at(step: int) -> float:
    return 2.0 + math.sin(step / 7.0) + (3.0 if step % 97 == 0 else 0.0)  # wavy, with spikes


@pytest.fixture(scope="module")
def realm(tmp_path_factory, tiny_hero_dir):
    with realm_for(tmp_path_factory.mktemp("truth"), tiny_hero_dir, campaign_name=CAMPAIGN_NAME) as running:
        # Nothing trains here: the queue stays put and the steps come only from the test.
        running.admin.trainer.PauseTraining(tpb.PauseTrainingRequest(reason="charts are fed by the test"))
        yield running


def publish_steps(realm, first: int, last: int) -> None:
    def publish():
        for step in range(first, last + 1):
            realm.trainer_domain.events.publish(EventKind.STEP, campaign=realm.campaign, step={
                "global_step": step, "loss": loss_at(step), "tokens_per_second": 1000.0 + step % 50})
    realm.background.call(publish)


def api_rows(realm, start: int, end: int) -> list[dict[str, float]]:
    series = realm.admin.trainer.GetMetricSeries(tpb.GetMetricSeriesRequest(
        campaign=realm.campaign, metric="loss", start_step=start, end_step=end, max_points=2000,
        smoothing=tpb.SMOOTHING_KIND_EMA, smoothing_weight=WEIGHT))
    return [{"first_step": b.first_step, "last_step": b.last_step, "count": b.count, "min": b.min, "max": b.max,
             "mean": b.mean, "last": b.last, "smoothed": b.smoothed} for b in series.buckets]


def as_numbers(rows: list[dict[str, str]]) -> list[dict[str, float]]:
    return [{key: (int(value) if key in ("first_step", "last_step", "count") else float(value))
             for key, value in row.items()} for row in rows]


def zoom(page, start: int, end: int) -> None:
    page.fill("[data-control=from-loss]", str(start))
    page.fill("[data-control=to-loss]", str(end))
    page.click("[data-action=zoom-loss]")
    page.wait_for_selector(f"#chart-loss[data-view='{start}-{end}']")


def test_smoothed_value_at_step_100_never_changes_and_csv_equals_the_drawing(page, realm):
    publish_steps(realm, 1, 200)
    open_page(page, realm.url, "battle")
    page.wait_for_selector("#chart-loss[data-last-step='200']")
    whole = as_numbers(download_csv(page, "loss"))
    assert whole == api_rows(realm, 0, 0)  # exactly the series the server computed, bucket for bucket
    assert len(whole) == 200 and page.get_attribute("#chart-loss", "data-points") == "200"
    before = next(row["smoothed"] for row in whole if row["last_step"] == 100)

    publish_steps(realm, 201, 10_200)  # live: the open page receives them over SSE
    page.wait_for_selector("#chart-loss[data-last-step='10200']", timeout=120_000)
    zoom(page, 90, 110)
    detail = as_numbers(download_csv(page, "loss"))
    assert detail == api_rows(realm, 90, 110)
    assert next(row["smoothed"] for row in detail if row["last_step"] == 100) == before

    page.reload()  # a fresh page, 10,200 steps downsampled: spikes survive as bucket maxima
    page.wait_for_selector("#chart-loss[data-last-step='10200']")
    overview = as_numbers(download_csv(page, "loss"))
    assert overview == api_rows(realm, 0, 0)
    assert max(row["max"] for row in overview) == max(loss_at(s) for s in range(1, 10_201))
    zoom(page, 90, 110)
    assert next(row["smoothed"] for row in as_numbers(download_csv(page, "loss")) if row["last_step"] == 100) == before
    screenshot(page, "battle-10k-steps")


def test_names_with_html_payloads_render_as_text(browser_context, realm, tmp_path):
    for payload in PAYLOADS:
        realm.submit(chat_rows(8), f"quest {payload}")
    realm.submit(b"not json\n", f"rejected {PAYLOADS[1]}")
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text('{"model_type": "qwen3"}')
    realm.admin.vault.push(checkpoint, "checkpoint", display_name=f"ckpt {PAYLOADS[2]}",
                           lineage={"campaign": realm.campaign, "global_step": 7, "hero": "heroes/tiny"},
                           labels={"note": PAYLOADS[0]})
    page = browser_context.new_page()
    sign_in(page, realm.url)
    for name, texts in (("battle", [CAMPAIGN_NAME]), ("quests", [f"quest {p}" for p in PAYLOADS]
                                                      + [f"rejected {PAYLOADS[1]}"]),
                        ("vault", [f"ckpt {PAYLOADS[2]}"]), ("campaigns", [CAMPAIGN_NAME])):
        page.goto(f"{realm.url}/#/{name}")
        page.wait_for_selector(f"section.page[data-page={name}]")
        page.wait_for_load_state("networkidle")
        for text in texts:
            page.get_by_text(text, exact=False).first.wait_for()  # shown, as the very characters typed
        screenshot(page, f"xss-{name}")
        assert page.evaluate("() => window.__xss") is None, name
        assert page.locator("main img, main script, main svg").count() == 0, name
        report = watcher_report(page)
        assert report["csp"] == [] and report["errors"] == [], (name, report)
