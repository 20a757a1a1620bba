from __future__ import annotations

import pytest

from services.kit.errors import InvalidArgument
from services.trainer.worker.config import (
    TrainingConfig,
    build_training_config,
    config_from_dict,
    config_hash,
)


def test_overrides_win_over_hero_defaults():
    cfg = build_training_config({"learning_rate": 1e-4, "micro_batch_size": 4}, {"learning_rate": 3e-4})
    assert cfg.learning_rate == 3e-4
    assert cfg.micro_batch_size == 4


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"learning_rate": 0}, "learning_rate", "(0, 1]"),
        ({"learning_rate": 5}, "learning_rate", "got 5"),
        ({"micro_batch_size": 0}, "micro_batch_size", "[1, 4096]"),
        ({"micro_batch_size": 2.5}, "micro_batch_size", "integer"),
        ({"optimizer": "adam"}, "optimizer", "adamw"),
        ({"lr_schedule": "step"}, "lr_schedule", "cosine"),
        ({"max_seq_len": 8}, "max_seq_len", "[16,"),
        ({"packing": "yes"}, "packing", "true or false"),
        ({"min_mask_ratio": 0.5, "max_mask_ratio": 0.4}, "min_mask_ratio", "max_mask_ratio"),
        ({"lora": {"rank": 0}}, "lora_rank", "[1,"),
        ({"lora_quantize_base_4bit": True}, "lora_quantize_base_4bit", "lora_enabled"),
        ({"learning_rate": float("nan")}, "learning_rate", "must be in"),
    ],
)
def test_out_of_range_values_name_the_field(overrides, field, fragment):
    with pytest.raises(InvalidArgument) as caught:
        build_training_config({}, overrides)
    assert caught.value.field == field
    assert fragment in caught.value.message


def test_unknown_keys_are_rejected_by_name():
    with pytest.raises(InvalidArgument) as caught:
        build_training_config({"learning_rat": 1e-3}, {})
    assert caught.value.field == "learning_rat"
    assert "hero defaults" in caught.value.message
    with pytest.raises(InvalidArgument) as caught:
        build_training_config({}, {"lora": {"ranks": 4}})
    assert caught.value.field == "lora.ranks"


def test_hero_lora_block_and_yaml_numbers_are_accepted():
    cfg = build_training_config(
        {"lora": {"enabled": True, "rank": 4.0, "alpha": 8, "target_modules": ["q_proj"]}, "warmup_steps": 10.0},
        {"weight_decay": 0},
    )
    assert cfg.lora_enabled and cfg.lora_rank == 4 and cfg.lora_target_modules == ("q_proj",)
    assert cfg.warmup_steps == 10 and isinstance(cfg.warmup_steps, int)
    assert isinstance(cfg.weight_decay, float)


def test_config_is_frozen_round_trips_and_hashes_stably():
    cfg = build_training_config({}, {"seed": 3, "lora_target_modules": ["q_proj", "v_proj"]})
    with pytest.raises(AttributeError):
        cfg.seed = 4  # type: ignore[misc]
    again = config_from_dict(cfg.to_dict())
    assert again == cfg
    assert config_hash(again) == config_hash(cfg)
    assert config_hash(cfg) != config_hash(build_training_config({}, {"seed": 4}))
    assert len(config_hash(TrainingConfig())) == 64
