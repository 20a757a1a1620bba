"""The campaign loop end to end, services as separate processes under `realm up` on loopback:
generate -> train -> checkpoint -> vault -> trial -> level-up, with a kill -9 of one service in the middle.

A shortened curriculum (BIN only, level-up threshold 0.4 over the last 2 evals) keeps it to a few minutes. The
supervisor needs fixed ports in realm.yaml: fixtures.realm_up retries a start that lost one to another process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from fixtures.kit import ADMIN_TOKEN, config_dict_for_tests
from fixtures.realm_up import start_realm_up
from realm.curriculum.v1 import curriculum_pb2 as cpb
from realm.sdk import connect
from realm.trainer.v1 import trainer_pb2 as tpb
from realm.vault.v1 import vault_pb2 as vpb

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVICES = ["vault", "curriculum", "inference", "trainer"]
LOOP_TIMEOUT = 420  # seconds for the whole loop to level up once


@pytest.fixture(scope="module")
def tiny_hero(tmp_path_factory) -> Path:
    from realm_ops.tiny_hero import build_tiny_hero

    return build_tiny_hero(tmp_path_factory.mktemp("hero") / "tiny")


def write_config(tmp_path: Path, hero_dir: Path, ports: dict[str, int]) -> Path:
    heroes = tmp_path / "heroes"
    heroes.mkdir(exist_ok=True)
    (heroes / "tiny.yaml").write_text(yaml.safe_dump({
        "display_name": "Tiny Hero",
        "model_dir": str(hero_dir),
        "architecture": "qwen3",
        "training_defaults": {
            "learning_rate": 0.003, "lr_schedule": "constant", "warmup_steps": 5, "micro_batch_size": 8,
            "max_seq_len": 256, "epochs": 1, "checkpoint_every_steps": 20,
        },
        "optimizer": {"kind": "adamw", "weight_decay": 0.0},
        "idle": {"enabled": True, "skills": ["bin"], "queue_threshold": 1, "batch_rows": 1536, "preset": "equal"},
    }))
    raw = config_dict_for_tests(tmp_path / "var",
                                trainer={"heroes_dir": str(heroes)},
                                curriculum={"eval_window": 2, "thresholds": {"bin": 0.4}, "full_eval_every": 0,
                                            "sparring": {"enabled": False}},
                                inference={"max_batch_size": 16},
                                supervisor={"start_timeout_seconds": 120})
    raw["services"] = {name: {"host": "local", "port": ports[name]} for name in SERVICES}
    path = tmp_path / "realm.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def wait_for(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # services restart during the test
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error})")


def supervisor_state(tmp_path: Path) -> dict:
    try:
        return json.loads((tmp_path / "var" / "run" / "supervisor.json").read_text())["services"]
    except (OSError, ValueError, KeyError):
        return {}


def checkpoints(realm, campaign: str, show_deleted: bool = False) -> list:
    return list(realm.vault.ListAssets(vpb.ListAssetsRequest(
        kind=vpb.ASSET_KIND_CHECKPOINT, campaign=campaign, page_size=1000, show_deleted=show_deleted)).assets)


def evaluations(realm, campaign: str) -> list:
    found = realm.curriculum.ListEvaluations(cpb.ListEvaluationsRequest(campaign=campaign, page_size=1000))
    return sorted((e for e in found.evaluations if e.state == cpb.EVALUATION_STATE_SUCCEEDED),
                  key=lambda e: e.create_time.ToNanoseconds())


def bin_progress(realm, campaign: str):
    progress = realm.curriculum.GetCampaignProgress(cpb.GetCampaignProgressRequest(campaign=campaign)).progress
    return next(s for s in progress.skills if s.skill in ("bin", "skills/bin"))


def test_loop_trains_evaluates_levels_up_and_survives_a_kill(tmp_path, tiny_hero):
    env = dict(os.environ, REALM_TOKEN=ADMIN_TOKEN)
    started = start_realm_up(tmp_path, lambda ports: write_config(tmp_path, tiny_hero, ports), SERVICES,
                             timeout=150, env=env)
    up, config = started.process, started.config
    try:
        realm = connect(config, token=ADMIN_TOKEN)
        campaign = realm.trainer.CreateCampaign(tpb.CreateCampaignRequest(
            campaign=tpb.Campaign(display_name="loop", hero="heroes/tiny", skills=["bin"]), campaign_id="loop",
        )).campaign.name
        realm.trainer.ActivateCampaign(tpb.ActivateCampaignRequest(name=campaign))

        # mid-run: once a first trial is in, kill -9 the curriculum; the supervisor restarts it
        first_trials = wait_for(lambda: evaluations(realm, campaign), 240, "a first trial")
        victim = "curriculum"
        before = supervisor_state(tmp_path)[victim]["pid"]
        checkpoints_before = {a.name for a in checkpoints(realm, campaign)}
        trials_before = {e.name for e in evaluations(realm, campaign)}
        os.kill(before, signal.SIGKILL)
        wait_for(lambda: supervisor_state(tmp_path)[victim]["pid"] not in (None, before)
                 and supervisor_state(tmp_path)[victim]["state"] == "SERVING", 90, f"{victim} restarted")

        leveled = wait_for(lambda: bin_progress(realm, campaign).mastered_level >= 1, LOOP_TIMEOUT,
                           "BIN level 1 mastered")
        assert leveled

        # nothing lost across the restart: every checkpoint is still catalogued, ACTIVE or deleted by retention
        catalogued = {a.name: a for a in checkpoints(realm, campaign, show_deleted=True)}
        assert checkpoints_before <= set(catalogued)
        assert all(a.state in (vpb.ASSET_STATE_ACTIVE, vpb.ASSET_STATE_DELETED) for a in catalogued.values())
        after_checkpoints = [a for a in catalogued.values() if a.state == vpb.ASSET_STATE_ACTIVE]
        assert after_checkpoints
        trials = evaluations(realm, campaign)
        assert trials_before <= {e.name for e in trials}

        # checkpoints carry lineage
        for asset in after_checkpoints:
            assert asset.lineage.hero == "heroes/tiny" and asset.lineage.campaign == campaign
            assert asset.lineage.global_step > 0 and asset.lineage.config_hash and asset.lineage.quest
        # trials carry report assets in the vault
        for trial in trials:
            for result in trial.results:
                report = realm.vault.GetAsset(vpb.GetAssetRequest(name=result.report_asset)).asset
                assert report.kind == vpb.ASSET_KIND_EVAL_REPORT
        first_accuracy = first_trials[0].results[0].accuracy
        best_later = max(r.accuracy for e in trials[1:] for r in e.results if r.level == 1)
        assert best_later > first_accuracy
        progress = bin_progress(realm, campaign)
        assert progress.mastered_level >= 1 and len(progress.progression) >= 1
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            up.kill()
