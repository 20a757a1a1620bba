"""The training-config dry-run: every problem at once, each with its layer; the resolved config when valid."""

from __future__ import annotations

from services.trainer.config_check import check_training_config
from services.trainer.worker.config import build_training_config, config_hash

HERO = {"learning_rate": 0.003, "max_seq_len": 640, "optimizer": "adamw"}


def fields(result):
    return [(p.field, p.origin) for p in result.problems]


def test_every_bad_key_is_reported_with_its_layer():
    result = check_training_config([
        ("hero defaults", {**HERO, "epochs": 0}),
        ("campaign overrides", {"optimizer": "lion", "warmup": 3}),
        ("overrides", {"learning_rate": 5, "micro_batch_size": 2.5, "lora": {"rank": 0, "colour": "red"}}),
    ])
    assert not result.valid and result.config is None and result.config_hash == ""
    assert sorted(fields(result)) == sorted([
        ("epochs", "hero defaults"), ("optimizer", "campaign overrides"), ("warmup", "campaign overrides"),
        ("learning_rate", "overrides"), ("micro_batch_size", "overrides"), ("lora_rank", "overrides"),
        ("lora.colour", "overrides")])
    by_field = {p.field: p.message for p in result.problems}
    assert "got 5" in by_field["learning_rate"] and "lion" in by_field["optimizer"]


def test_a_later_layer_fixes_an_earlier_value():
    result = check_training_config([("hero defaults", {**HERO, "epochs": 0}), ("overrides", {"epochs": 2})])
    assert result.valid and result.config.epochs == 2


def test_cross_field_rules_are_checked_once_every_key_is_fine():
    result = check_training_config([("overrides", {"min_mask_ratio": 0.9, "max_mask_ratio": 0.5})])
    assert fields(result) == [("min_mask_ratio", "config")]


def test_a_valid_config_is_the_one_a_quest_would_train_with():
    overrides = {"learning_rate": 0.001, "lora": {"enabled": True, "rank": 4}}
    result = check_training_config([("hero defaults", HERO), ("overrides", overrides)])
    expected = build_training_config(HERO, overrides)
    assert result.valid and result.config == expected and result.config_hash == config_hash(expected)
