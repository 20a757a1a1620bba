"""Loading checkpoints from a real vault service by alias, into the verified local cache."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from realm.inference.v1 import inference_pb2 as pb
from realm.vault.v1 import vault_pb2
from services.inference.app import setup as inference_setup
from services.vault.app import setup as vault_setup

from .conftest import inference_settings

pytestmark = pytest.mark.integration


def test_load_by_alias_from_the_vault(services, tmp_path, hero_dir):
    from fixtures.kit import make_test_settings

    vault_settings = make_test_settings(tmp_path / "vault", vault={"zones": {"hot": {"path": "zones/hot"}},
                                                                    "default_zone": "hot"})
    vault = services.start(vault_settings, "vault", vault_setup)
    admin = vault.connect()
    asset = admin.vault.push(hero_dir, "checkpoint", display_name="tiny-hero")
    admin.vault.SetAlias(vault_pb2.SetAliasRequest(alias=vault_pb2.Alias(
        name="campaigns/c1/aliases/best/bin", asset=asset.name, metric="accuracy", metric_value=0.5,
        direction=vault_pb2.METRIC_DIRECTION_MAXIMIZE)))

    inference = services.start(inference_settings(tmp_path / "inference", vault_port=vault.port), "inference",
                               inference_setup)
    realm = inference.connect()
    model = realm.inference.load("campaigns/c1/aliases/best/bin", wait=True)
    assert model.name == "models/c1-best-bin" and model.asset == asset.name
    assert model.state == pb.MODEL_STATE_READY and model.source == "campaigns/c1/aliases/best/bin"
    cached = tmp_path / "inference" / "var" / "inference" / "cache" / asset.name.replace("/", "-")
    assert (cached / "model.safetensors").read_bytes() == (hero_dir / "model.safetensors").read_bytes()

    reply = realm.inference.chat("c1-best-bin", [{"role": "user", "content": "hi"}], max_new_tokens=4)
    expected = AutoTokenizer.from_pretrained(hero_dir).apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert reply.rendered_prompt == expected and reply.summary.generated_tokens == 4

    with pytest.raises(Exception) as caught:
        realm.inference.load("campaigns/c1/aliases/nope", model_id="nope", wait=True)
    assert caught.value.code().name == "NOT_FOUND"
