"""The inference config: every key validated where it is built, errors naming the key, paths from settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.inference.config import InferenceConfig
from services.kit.config import ConfigError

ROOT = Path("/srv/realm")
DATA = ROOT / "var"


def build(**section):
    return InferenceConfig.from_section(section, data_dir=DATA, root=ROOT)


def test_defaults_and_paths_come_from_settings():
    config = build()
    assert config.cache_dir == DATA / "inference" / "cache"
    assert config.default_model is None and config.on_demand and config.limits.max_prompt_bytes > 0
    config = build(cache_dir="cache/models", adapter_base_dir="bases", tgi_tokenizers={"http://tgi:80": "tok"},
                   default_model={"source": "latest", "fallback": "var/heroes/tiny", "id": "default"})
    assert config.cache_dir == ROOT / "cache" / "models"
    assert config.adapter_base_dir == str(ROOT / "bases")
    assert config.tgi_tokenizers == {"http://tgi:80": str(ROOT / "tok")}
    assert config.default_model.source == "latest"  # an alias stays a vault name
    assert config.default_model.fallback == str(ROOT / "var" / "heroes" / "tiny")
    assert build(default_model="campaigns/c1/aliases/best/bin").default_model.source == "campaigns/c1/aliases/best/bin"
    assert build(default_model="heroes/tiny").default_model.source == str(ROOT / "heroes" / "tiny")
    assert build(default_model={"source": "latest", "campaign": "campaigns/c9"}).default_model.campaign == "c9"


@pytest.mark.parametrize(("section", "key"), [
    ({"max_modles": 2}, "inference.max_modles"),
    ({"dtype": "int3"}, "inference.dtype"),
    ({"max_models": 0}, "inference.max_models"),
    ({"max_batch_size": True}, "inference.max_batch_size"),
    ({"max_queue": "64"}, "inference.max_queue"),
    ({"memory_budget_mb": -1}, "inference.memory_budget_mb"),
    ({"tgi_timeout_seconds": 1.5}, "inference.tgi_timeout_seconds"),
    ({"device": 3}, "inference.device"),
    ({"limits": []}, "inference.limits"),
    ({"limits": {"max_prompt_bytes": 0}}, "inference.limits.max_prompt_bytes"),
    ({"limits": {"max_new_tokens": "lots"}}, "inference.limits.max_new_tokens"),
    ({"limits": {"max_prompt_chars": 5}}, "inference.limits.max_prompt_chars"),
    ({"limits": {"max_new_tokens": 10, "default_max_new_tokens": 20}}, "inference.limits.default_max_new_tokens"),
    ({"default_model": {"id": "x"}}, "inference.default_model"),
    ({"default_model": {"source": "latest", "folow": True}}, "inference.default_model.folow"),
    ({"default_model": {"source": "latest", "fallback": 3}}, "inference.default_model.fallback"),
    ({"tgi_tokenizers": ["x"]}, "inference.tgi_tokenizers"),
    ({"follow_retry_seconds": 0}, "inference.follow_retry_seconds"),
    ({"on_demand": "yes"}, "inference.on_demand"),
    ({"stream_interval_ms": -1}, "inference.stream_interval_ms"),
])
def test_bad_values_name_their_key(section, key):
    with pytest.raises(ConfigError) as caught:
        build(**section)
    assert caught.value.key == key
