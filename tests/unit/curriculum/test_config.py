"""The curriculum's one typed config: defaults, paths from settings, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.curriculum.config import CurriculumConfig, SparringConfig, TrialPolicy
from services.kit.config import ConfigError


def build(section, tmp_path):
    return CurriculumConfig.from_section(section, data_dir=tmp_path / "var", root=tmp_path)


def test_defaults_and_paths_come_from_settings(tmp_path):
    config = build({}, tmp_path)
    assert config.state_dir == tmp_path / "var" / "curriculum"
    assert config.progression_db == tmp_path / "var" / "curriculum" / "curriculum.db"
    assert config.evaluations_db == tmp_path / "var" / "curriculum" / "evaluations.db"
    assert (config.eval_concurrency, config.auto_evaluate, config.trials) == (8, True, TrialPolicy())
    assert config.progression.eval_window == 3 and config.progression.default_preset == "equal"
    relative = build({"state_dir": "state/cur"}, tmp_path)
    assert relative.state_dir == tmp_path / "state" / "cur"
    absolute = build({"state_dir": str(tmp_path / "abs")}, tmp_path)
    assert absolute.evaluations_db == tmp_path / "abs" / "evaluations.db"


def test_every_key_is_read(tmp_path):
    config = build({"eval_window": 2, "thresholds": {"bin": 0.5}, "broken_loss": 0.1, "default_preset": "focus:bin",
                    "eval_concurrency": 3, "auto_evaluate": False, "trial_cooldown_s": 1, "trial_retry_initial_s": 0.5,
                    "trial_retry_max_s": 4, "full_eval_every": 0,
                    "sparring": {"enabled": False, "share": 0.25, "max_rows": 9}}, tmp_path)
    assert (config.progression.eval_window, dict(config.progression.thresholds), config.progression.broken_loss,
            config.progression.default_preset) == (2, {"bin": 0.5}, 0.1, "focus:bin")
    assert (config.eval_concurrency, config.auto_evaluate) == (3, False)
    assert config.trials == TrialPolicy(1.0, 0.5, 4.0, 0, SparringConfig(False, 0.25, 9))


@pytest.mark.parametrize(("section", "key"), [
    ({"eval_window": 0}, "curriculum.eval_window"),
    ({"eval_window": "three"}, "curriculum.eval_window"),
    ({"thresholds": {"bin": 1.5}}, "curriculum.thresholds.bin"),
    ({"thresholds": [0.5]}, "curriculum.thresholds"),
    ({"default_preset": "loudest_first"}, "curriculum.default_preset"),
    ({"eval_concurrency": 0}, "curriculum.eval_concurrency"),
    ({"auto_evaluate": "yes"}, "curriculum.auto_evaluate"),
    ({"trial_cooldown_s": -1}, "curriculum.trial_cooldown_s"),
    ({"full_eval_every": -1}, "curriculum.full_eval_every"),
    ({"sparring": "on"}, "curriculum.sparring"),
    ({"sparring": {"share": 2}}, "curriculum.sparring.share"),
    ({"sparring": {"max_rows": -1}}, "curriculum.sparring.max_rows"),
    ({"state_dir": 5}, "curriculum.state_dir"),
])
def test_a_bad_value_is_a_config_error_naming_the_key(tmp_path, section, key):
    with pytest.raises(ConfigError) as err:
        build(section, tmp_path)
    assert err.value.key == key and key in str(err.value)


def test_the_shipped_realm_yaml_section_is_valid(tmp_path):
    import yaml

    raw = yaml.safe_load((Path(__file__).resolve().parents[3] / "realm.yaml").read_text())
    config = build(raw["curriculum"], tmp_path)
    assert config.trials.sparring.enabled is False and config.trials.full_eval_every == 5
