from pathlib import Path

import pytest

from services.kit.config import ConfigError
from services.warden.config import WardenConfig


def test_defaults_and_relative_paths(tmp_path):
    config = WardenConfig.from_section({}, default_disk_paths=(tmp_path / "var",), root=tmp_path)
    assert config.disk.paths == (tmp_path / "var",)
    assert config.disk.warn_percent == 85 and config.disk.critical_percent == 95
    assert "vault" in config.critical_services and config.keepalive_seconds == 1.0

    config = WardenConfig.from_section({"disk": {"paths": ["data", "/mnt/nas"]}}, root=tmp_path)
    assert config.disk.paths == (tmp_path / "data", Path("/mnt/nas"))


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"probe_timeout_seconds": 0}, "warden.probe_timeout_seconds"),
        ({"keepalive_seconds": "fast"}, "warden.keepalive_seconds"),
        ({"alert_after_seconds": -1}, "warden.alert_after_seconds"),
        ({"critical_services": ["vault", "nope"]}, "warden.critical_services"),
        ({"backoff_initial_seconds": 3, "backoff_max_seconds": 1}, "warden.backoff_max_seconds"),
        ({"disk": {"warn_percent": 96}}, "warden.disk.critical_percent"),
        ({"disk": {"critical_percent": 101}}, "warden.disk.critical_percent"),
        ({"disk": {"paths": "var"}}, "warden.disk.paths"),
        ({"disk": []}, "warden.disk"),
    ],
)
def test_bad_values_name_their_key(section, key):
    with pytest.raises(ConfigError) as caught:
        WardenConfig.from_section(section)
    assert caught.value.key == key
