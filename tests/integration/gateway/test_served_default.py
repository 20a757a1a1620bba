"""`default` through the gateway after trial-like traffic: five checkpoints loaded into a pool of two, then a chat
with no model named answers from the campaign's current `latest` — over a real vault and inference service."""

from __future__ import annotations

import shutil
import time

import openai
import pytest

from fixtures.kit import READ_TOKEN, make_test_settings, serve_for_test
from realm.inference.v1 import inference_pb2 as ipb
from services.inference.app import setup as inference_setup
from services.kit.config import SERVICE_NAMES
from services.vault.app import setup as vault_setup

pytestmark = pytest.mark.integration


def push_checkpoint(admin, hero_dir, tmp_path, step: int, parent: str = "", campaign: str = "campaigns/c1"):
    copy = tmp_path / f"ckpt-{step}"
    shutil.copytree(hero_dir, copy)
    (copy / "step.txt").write_text(str(step))  # content-addressed: one more file makes another asset
    return admin.vault.push(copy, "checkpoint", display_name=f"ckpt-{step}",
                            lineage={"campaign": campaign, "global_step": step, "parent_checkpoint": parent})


def default_serving(admin, asset: str, seconds: float = 120.0) -> ipb.Model:
    """The swap follows the vault ledger asynchronously: follow the model until it serves `asset`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        view = admin.inference.get("default")
        if view.asset == asset and view.state == ipb.MODEL_STATE_READY:
            return view
        admin.inference.wait("default", timeout=5)
        time.sleep(0.05)
    raise AssertionError(f"default never served {asset}: {admin.inference.get('default')}")


def test_default_answers_from_the_current_latest_after_trial_loads(tmp_path, hero_dir, start_background_gateway):
    vault_settings = make_test_settings(tmp_path / "vault", vault={"zones": {"hot": {"path": "zones/hot"}},
                                                                    "default_zone": "hot"})
    handles = {}

    async def services(background):
        vault = await background.enter_async(serve_for_test(vault_settings, "vault", vault_setup))
        ports = {name: {"host": "local", "port": 0} for name in SERVICE_NAMES}
        ports["vault"]["port"] = vault.port
        inference_settings = make_test_settings(tmp_path / "inference", services=ports, inference={
            "max_models": 2, "max_batch_size": 4,
            "default_model": {"id": "default", "source": "latest", "fallback": str(hero_dir)}})
        inference = await background.enter_async(serve_for_test(inference_settings, "inference", inference_setup))
        handles.update(vault=vault, inference=inference)
        return {"vault": vault.address, "inference": inference.address}

    with start_background_gateway(vault_settings, services) as url:
        admin = handles["vault"].connect(extra_addresses={"inference": handles["inference"].address})
        first = push_checkpoint(admin, hero_dir, tmp_path, 60)
        default_serving(admin, first.name)
        for i in range(5):  # trials: each loads another checkpoint into the pool of two
            trial = push_checkpoint(admin, hero_dir, tmp_path, 100 + i, parent=first.name, campaign="")
            admin.inference.load(trial.name, wait=True)
        latest = push_checkpoint(admin, hero_dir, tmp_path, 120, parent=first.name)
        default_serving(admin, latest.name)

        client = openai.OpenAI(base_url=f"{url}/v1", api_key=READ_TOKEN, max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="default", messages=[{"role": "user", "content": "hi"}], max_tokens=3)
        assert raw.status_code == 200 and raw.parse().choices[0].message.role == "assistant"
        assert raw.headers["x-realm-served-model"] == "models/default"
        assert raw.headers["x-realm-served-asset"] == latest.name
        card = next(m for m in client.models.list().data if m.id == "default")
        assert card.model_extra["checkpoint"] == latest.name and card.model_extra["parent"] == first.name
        assert card.model_extra["pinned"] is True
