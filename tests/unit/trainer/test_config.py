"""The trainer's typed config: `trainer:` of realm.yaml, validated where it is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.kit.config import ConfigError
from services.trainer.config import DEFAULT_WORKER_COMMAND, TrainerConfig


def build(**section):
    return TrainerConfig.from_section(section, data_dir=Path("/var/realm"), root=Path("/srv/realm"))


def test_defaults_and_paths_come_from_settings():
    config = build()
    assert config.data_root == Path("/var/realm/trainer")
    assert config.heroes_dir == Path("/srv/realm/heroes")
    assert config.controller.worker_command == DEFAULT_WORKER_COMMAND
    assert config.validation_level == "VALIDATION_LEVEL_STANDARD"
    assert build(heroes_dir="/etc/heroes").heroes_dir == Path("/etc/heroes")


def test_values_are_typed():
    config = build(restart_budget=5, control_timeout_s=1, worker_env={"OMP_NUM_THREADS": 1},
                   worker_command=["python3", "-m", "x"], validation_level="deep", event_retention=10.0)
    assert config.controller.restart_budget == 5 and config.controller.control_timeout_s == 1.0
    assert config.controller.worker_env == {"OMP_NUM_THREADS": "1"}
    assert config.controller.worker_command == ("python3", "-m", "x")
    assert config.validation_level == "VALIDATION_LEVEL_DEEP" and config.event_retention == 10


@pytest.mark.parametrize(("section", "key"), [
    ({"restart_budget": "many"}, "trainer.restart_budget"),
    ({"restart_budget": -1}, "trainer.restart_budget"),
    ({"idle_poll_s": -0.5}, "trainer.idle_poll_s"),
    ({"control_timeout_s": True}, "trainer.control_timeout_s"),
    ({"worker_command": "python -m x"}, "trainer.worker_command"),
    ({"worker_env": ["A=1"]}, "trainer.worker_env"),
    ({"validation_level": "THOROUGH"}, "trainer.validation_level"),
    ({"heroes_dir": ""}, "trainer.heroes_dir"),
    ({"max_quest_bytes": 0}, "trainer.max_quest_bytes"),
    ({"restart_budgt": 3}, "trainer.restart_budgt"),
])
def test_a_bad_setting_is_a_config_error_naming_its_key(section, key):
    with pytest.raises(ConfigError) as caught:
        build(**section)
    assert caught.value.key == key

