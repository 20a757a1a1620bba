"""Settings in chromium: the VRAM calculator shows the EstimateMemory RPC's own numbers, beside the peak a real
training run measured; the dry-run lists every config error at once; the effective configuration has no secret."""

from __future__ import annotations

import time

import pytest

from fixtures.kit import ADMIN_TOKEN, READ_TOKEN
from realm.trainer.v1 import trainer_pb2 as tpb

from ._services2 import realm2_for
from .conftest import chat_rows, open_page, screenshot, sign_in, watcher_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def realm2(tmp_path_factory, tiny_hero_dir):
    with realm2_for(tmp_path_factory.mktemp("settings"), tiny_hero_dir) as running:
        yield running


@pytest.fixture(scope="module")
def past_run(realm2):
    """One real quest trained by the worker, so the trainer has measured memory for this hero."""
    quest = realm2.submit(chat_rows(40), "memory probe")
    deadline = time.monotonic() + 600
    while (current := realm2.admin.trainer.GetQuest(tpb.GetQuestRequest(name=quest.name)).quest).state \
            != tpb.QUEST_STATE_COMPLETED:
        assert time.monotonic() < deadline, f"the memory probe quest never completed: {current}"
        time.sleep(0.5)
    return quest


@pytest.fixture
def page2(browser_context, realm2):
    page = browser_context.new_page()
    sign_in(page, realm2.url)
    return page


def shown_estimate(page) -> dict[str, int]:
    page.wait_for_selector("[data-table=estimate] tr[data-component=total]")
    return page.eval_on_selector_all("[data-table=estimate] tr[data-component]", """rows => Object.fromEntries(
        rows.map(r => [r.dataset.component, Number(r.querySelector('[data-bytes]').dataset.bytes)]))""")


def rpc_estimate(realm2, **fields) -> dict[str, int]:
    reply = realm2.admin.trainer.EstimateMemory(tpb.EstimateMemoryRequest(hero="heroes/tiny", **fields))
    return {**{c.name: c.bytes for c in reply.components}, "total": reply.total_bytes}


@pytest.mark.parametrize(("choices", "fields"), [
    ({"precision": "fp32", "optimizer": "adamw", "lora_rank": 0, "sequence_length": 128, "micro_batch_size": 2},
     dict(precision=tpb.PRECISION_FP32, optimizer=tpb.OPTIMIZER_KIND_ADAMW, sequence_length=128, micro_batch_size=2,
          gradient_checkpointing=True)),
    ({"precision": "nf4", "optimizer": "paged_adamw_8bit", "lora_rank": 8, "sequence_length": 4096,
      "micro_batch_size": 3},
     dict(precision=tpb.PRECISION_NF4, optimizer=tpb.OPTIMIZER_KIND_PAGED_ADAMW_8BIT, sequence_length=4096,
          micro_batch_size=3, gradient_checkpointing=True,
          lora=tpb.LoraSettings(enabled=True, rank=8, alpha=16, quantize_base_4bit=True))),
])
def test_vram_calculator_numbers_equal_the_estimate_memory_rpc(page2, realm2, choices, fields):
    open_page(page2, realm2.url, "settings")
    page2.select_option("[data-field=hero]", "heroes/tiny")
    for key in ("precision", "optimizer"):
        page2.select_option(f"[data-field={key}]", choices[key])
    for key in ("lora_rank", "sequence_length", "micro_batch_size"):
        page2.fill(f"[data-field={key}]", str(choices[key]))
    page2.check("[data-field=gradient_checkpointing]")
    page2.click("[data-action=estimate]")
    expected = rpc_estimate(realm2, **fields)
    page2.wait_for_function("total => document.querySelector("
                            "'[data-table=estimate] tr[data-component=total] [data-bytes]')?.dataset.bytes == total",
                            arg=str(expected["total"]))
    assert shown_estimate(page2) == expected
    assert set(expected) >= {"weights", "gradients", "optimizer", "activations", "total"}


def test_the_measured_peak_of_a_past_run_sits_beside_the_estimate(page2, realm2, past_run):
    open_page(page2, realm2.url, "settings")
    item = page2.wait_for_selector(f"[data-panel=peaks] li[data-campaign='{realm2.campaign}'] [data-peak]")
    series = realm2.admin.trainer.GetMetricSeries(tpb.GetMetricSeriesRequest(
        campaign=realm2.campaign, metric="memory_bytes", max_points=1))
    assert int(item.get_attribute("data-peak")) == max(b.max for b in series.buckets) > 0
    screenshot(page2, "settings")
    page2.set_viewport_size({"width": 375, "height": 800})
    screenshot(page2, "settings-phone")


def test_dry_run_lists_every_error_at_once_and_starts_nothing(page2, realm2):
    queued = realm2.admin.trainer.GetRunStatus(tpb.GetRunStatusRequest()).status.queued_quests
    open_page(page2, realm2.url, "settings")
    page2.select_option("[data-field=target]", realm2.campaign)
    page2.fill("[data-field=overrides]", "learning_rate: 7\noptimizer: lion\nwarmup: 3\nlora: {\"rank\": 0}")
    page2.click("[data-action=dry-run]")
    page2.wait_for_selector("[data-table=problems]")
    shown = page2.eval_on_selector_all("[data-table=problems] tr[data-problem]", "rows => rows.map(r => r.dataset.problem)")
    assert sorted(shown) == ["learning_rate", "lora_rank", "optimizer", "warmup"]
    assert realm2.admin.trainer.GetRunStatus(tpb.GetRunStatusRequest()).status.queued_quests == queued
    page2.fill("[data-field=overrides]", "learning_rate: 0.001")
    page2.click("[data-action=dry-run]")
    page2.wait_for_selector("[data-panel=dry-run] .badge.b-ok")
    assert watcher_report(page2)["errors"] == []


def test_effective_configuration_shows_settings_and_no_token(page2, realm2):
    open_page(page2, realm2.url, "settings")
    page2.wait_for_selector("details[data-section=auth]")
    body = page2.inner_text("main")
    assert ADMIN_TOKEN not in body and READ_TOKEN not in body
    assert page2.locator("[data-key='auth.tokens[0].value'] .redacted").count() == 1
    assert page2.locator("[data-key='warden.probe_interval_seconds']").text_content() == "0.5"
