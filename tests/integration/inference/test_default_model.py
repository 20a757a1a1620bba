"""models/default follows the campaign's `latest` vault alias (hot-swapped as it moves, pinned against the
trials' loads), and any alias or asset is a model id — against a real vault service."""

from __future__ import annotations

import shutil
import time

import pytest

from realm.inference.v1 import inference_pb2 as pb
from realm.vault.v1 import vault_pb2
from services.inference.app import setup as inference_setup
from services.vault.app import setup as vault_setup

from .conftest import inference_settings

pytestmark = pytest.mark.integration
PROMPT = "1011 + 0110 ="


def push_checkpoint(admin, hero_dir, tmp_path, step: int, parent: str = "", campaign: str = "campaigns/c1"):
    """A distinct checkpoint (content-addressed: one extra file makes another asset) with its lineage; the
    vault moves the campaign's `latest` to it (a checkpoint without a campaign moves nothing)."""
    copy = tmp_path / f"ckpt-{step}"
    shutil.copytree(hero_dir, copy)
    (copy / "step.txt").write_text(str(step))
    return admin.vault.push(copy, "checkpoint", display_name=f"ckpt-{step}",
                            lineage={"campaign": campaign, "global_step": step, "parent_checkpoint": parent})


def move_best(admin, skill: str, asset: str, accuracy: float) -> None:
    admin.vault.SetAlias(vault_pb2.SetAliasRequest(alias=vault_pb2.Alias(
        name=f"campaigns/c1/aliases/best/{skill}", asset=asset, metric="accuracy", metric_value=accuracy,
        direction=vault_pb2.METRIC_DIRECTION_MAXIMIZE)))


def wait_for(realm, model: str, predicate, seconds: float = 60.0) -> pb.Model:
    """Follow the model until `predicate` holds (the swap is asynchronous: it follows the vault ledger)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        view = realm.inference.get(model)
        if predicate(view):
            return view
        realm.inference.wait(model, timeout=5)  # returns at once when READY; blocks while LOADING
        time.sleep(0.05)
    raise AssertionError(f"{model} never satisfied the condition: {realm.inference.get(model)}")


@pytest.fixture
def vault(services, tmp_path):
    from fixtures.kit import make_test_settings

    settings = make_test_settings(tmp_path / "vault", vault={"zones": {"hot": {"path": "zones/hot"}},
                                                               "default_zone": "hot"})
    return services.start(settings, "vault", vault_setup)


def test_default_follows_latest_and_is_never_evicted(services, vault, tmp_path, hero_dir):
    admin = vault.connect()
    settings = inference_settings(tmp_path / "inference", vault_port=vault.port, max_models=2,
                                  default_model={"id": "default", "source": "latest", "fallback": str(hero_dir)})
    realm = services.start(settings, "inference", inference_setup).connect()

    fallback = wait_for(realm, "default", lambda m: m.state == pb.MODEL_STATE_READY)
    assert fallback.pinned and fallback.asset == "" and fallback.source == str(hero_dir)
    assert realm.inference.generate("default", PROMPT, max_new_tokens=2).summary.source == str(hero_dir)

    first = push_checkpoint(admin, hero_dir, tmp_path, 60)
    view = wait_for(realm, "default", lambda m: m.asset == first.name and m.state == pb.MODEL_STATE_READY)
    assert view.followed_alias == "campaigns/c1/aliases/latest" and view.pinned and view.global_step == 60

    # Trials load checkpoint after checkpoint into a pool of two: the default is never the one evicted.
    trials = [push_checkpoint(admin, hero_dir, tmp_path, 100 + i, parent=first.name, campaign="")
              for i in range(5)]
    for trial in trials:
        loaded = realm.inference.load(trial.name, wait=True)
        assert loaded.parent == first.name
        names = [m.name for m in realm.inference.models()]
        assert "models/default" in names and loaded.name in names
    summary = realm.inference.generate("default", PROMPT, max_new_tokens=3).summary
    assert (summary.model, summary.asset, summary.generated_tokens) == ("models/default", first.name, 3)

    # The alias moves again: the default answers from the new checkpoint.
    second = push_checkpoint(admin, hero_dir, tmp_path, 120, parent=first.name)
    wait_for(realm, "default", lambda m: m.asset == second.name and m.state == pb.MODEL_STATE_READY)
    reply = realm.inference.chat("default", [{"role": "user", "content": "hi"}], max_new_tokens=2)
    assert reply.summary.asset == second.name and realm.inference.get("default").parent == first.name


def test_aliases_and_assets_are_model_ids(services, vault, tmp_path, hero_dir):
    admin = vault.connect()
    best = push_checkpoint(admin, hero_dir, tmp_path, 7)
    latest = push_checkpoint(admin, hero_dir, tmp_path, 9, parent=best.name)
    move_best(admin, "bin", best.name, 0.5)
    settings = inference_settings(tmp_path / "inference", vault_port=vault.port, max_models=4,
                                  default_model={"id": "default", "source": "best/bin", "campaign": "c1"})
    running = services.start(settings, "inference", inference_setup)
    realm = running.connect()
    wait_for(realm, "default", lambda m: m.asset == best.name and m.state == pb.MODEL_STATE_READY)

    assert realm.inference.generate("best/bin", PROMPT, max_new_tokens=2).summary.asset == best.name
    assert realm.inference.generate("latest", PROMPT, max_new_tokens=2).summary.asset == latest.name
    by_asset = realm.inference.generate(latest.name, PROMPT, max_new_tokens=2).summary
    assert (by_asset.model, by_asset.asset) == (f"models/{latest.name}", latest.name)
    streamed = list(realm.inference.chat_stream("campaigns/c1/aliases/latest", [{"role": "user", "content": "x"}],
                                                max_new_tokens=2))
    assert streamed[-1].summary.asset == latest.name
    with pytest.raises(Exception) as caught:
        realm.inference.generate("best/none", PROMPT, max_new_tokens=2)
    assert caught.value.code().name == "NOT_FOUND" and caught.value.details().startswith("model")

    # an on-demand alias model follows its alias too
    newer = push_checkpoint(admin, hero_dir, tmp_path, 11, parent=latest.name)
    wait_for(realm, "latest", lambda m: m.asset == newer.name and m.state == pb.MODEL_STATE_READY)
    assert realm.inference.get("default").asset == best.name  # best/bin did not move
