from __future__ import annotations

from pathlib import Path

import pytest

from services.kit.config import ConfigError
from services.vault.config import VaultConfig


def test_zones_resolve_relative_to_the_config_root(tmp_path):
    config = VaultConfig.from_section({"zones": {"hot": {"path": "var/vault/hot"}, "cold": {"path": "/mnt/nas"}},
                                       "default_zone": "cold"}, data_dir=tmp_path / "var", root=tmp_path)
    assert config.zone("hot").root == tmp_path / "var/vault/hot"
    assert config.zone("cold").root == Path("/mnt/nas")
    assert config.default_zone == "cold" and config.state_dir == tmp_path / "var" / "vault"


def test_default_zone_lives_under_data_dir(tmp_path):
    config = VaultConfig.from_section({}, data_dir=tmp_path / "var", root=tmp_path)
    assert [z.name for z in config.zones] == ["hot"] and config.default_zone == "hot"
    assert config.zone("hot").root == tmp_path / "var" / "vault" / "zones" / "hot"


@pytest.mark.parametrize(("section", "key"), [
    ({"zones": []}, "vault.zones"),
    ({"zones": {"hot": {}}}, "vault.zones.hot.path"),
    ({"zones": {"h/t": {"path": "x"}}}, "vault.zones.h/t"),
    ({"zones": {"hot": {"path": "x"}}, "default_zone": "cold"}, "vault.default_zone"),
    ({"chunk_bytes": 0}, "vault.chunk_bytes"),
    ({"chunk_bytes": 1 << 30}, "vault.chunk_bytes"),
    ({"sync_every_bytes": "lots"}, "vault.sync_every_bytes"),
])
def test_bad_config_names_the_key(tmp_path, section, key):
    with pytest.raises(ConfigError) as info:
        VaultConfig.from_section(section, data_dir=tmp_path, root=tmp_path)
    assert info.value.key == key


def test_numbers_of_the_section_are_typed(tmp_path):
    config = VaultConfig.from_section({"verify_interval_s": 30, "upload_ttl_s": 3600.5,
                                       "gc_pause_between_deletions_s": 0}, data_dir=tmp_path, root=tmp_path)
    assert config.verify_interval_s == 30.0 and config.upload_ttl_s == 3600.5
    assert config.gc_pause_between_deletions_s == 0.0


@pytest.mark.parametrize(("section", "key"), [
    ({"verify_interval_s": "often"}, "vault.verify_interval_s"),
    ({"upload_ttl_s": -1}, "vault.upload_ttl_s"),
    ({"gc_pause_between_deletions_s": True}, "vault.gc_pause_between_deletions_s"),
    ({"state_dir": 7}, "vault.state_dir"),
    ({"retention_after_register": "yes"}, "vault.retention_after_register"),
])
def test_bad_numbers_and_paths_name_the_key(tmp_path, section, key):
    with pytest.raises(ConfigError) as info:
        VaultConfig.from_section(section, data_dir=tmp_path, root=tmp_path)
    assert info.value.key == key


def test_state_dir_resolves_against_the_config_root(tmp_path):
    config = VaultConfig.from_section({"state_dir": "state/vault"}, data_dir=tmp_path / "var", root=tmp_path)
    assert config.state_dir == tmp_path / "state" / "vault"
