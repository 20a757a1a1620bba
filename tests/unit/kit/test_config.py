from pathlib import Path

import pytest
import yaml

from fixtures.kit import config_dict_for_tests
from services.kit.config import ConfigError, load_settings, settings_from_dict


def write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "realm.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_valid_config_resolves_addresses_and_tokens(tmp_path):
    settings = settings_from_dict(config_dict_for_tests(tmp_path / "var"), root=tmp_path, env={})
    assert settings.service("vault").address == "127.0.0.1:0"
    assert settings.client_token() == "admin-token"
    assert {t.role for t in settings.tokens} == {"admin", "read"}


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda r: r["services"]["vault"].update(port="abc"), "services.vault.port"),
        (lambda r: r["services"]["vault"].update(port=70000), "services.vault.port"),
        (lambda r: r["services"]["vault"].update(host="mars"), "services.vault.host"),
        (lambda r: r["services"].update(oracle={"host": "local", "port": 1}), "services.oracle"),
        (lambda r: r["auth"]["tokens"][0].update(role="root"), "auth.tokens[0].role"),
        (lambda r: r["auth"]["tokens"][0].pop("value"), "auth.tokens[0]"),
        (lambda r: r["auth"]["tokens"][1].update(value="short"), "auth.tokens[1]"),
        (lambda r: r.update(hosts={}), "hosts"),
        (lambda r: r["auth"].update(client_token="nobody"), "auth.client_token"),
        (lambda r: r["services"]["trainer"].update(depends_on=["oracle"]), "services.trainer.depends_on"),
    ],
)
def test_invalid_config_names_the_key(tmp_path, mutate, key):
    raw = config_dict_for_tests(tmp_path / "var")
    mutate(raw)
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, raw), env={})
    assert caught.value.key == key
    assert key in str(caught.value)


def test_environment_overrides_nested_keys(tmp_path):
    path = write(tmp_path, config_dict_for_tests(tmp_path / "var"))
    settings = load_settings(path, env={"REALM__SERVICES__VAULT__PORT": "6000", "REALM__VAULT__ZONES": "{hot: x}"})
    assert settings.service("vault").port == 6000
    assert settings.section("vault") == {"zones": {"hot": "x"}}


def test_token_from_env_and_generated_file(tmp_path):
    raw = config_dict_for_tests(tmp_path / "var")
    raw["auth"]["tokens"] = [
        {"name": "admin", "role": "admin", "env": "MY_ADMIN_TOKEN"},
        {"name": "reader", "role": "read", "file": "secrets/read.token", "generate": True},
    ]
    path = write(tmp_path, raw)
    with pytest.raises(ConfigError, match="MY_ADMIN_TOKEN"):
        load_settings(path, env={})
    settings = load_settings(path, env={"MY_ADMIN_TOKEN": "s3cret-admin"})
    generated = (tmp_path / "secrets" / "read.token").read_text().strip()
    assert len(generated) >= 32
    assert settings.client_token("reader") == generated
    # a second load reads the same minted token
    assert load_settings(path, env={"MY_ADMIN_TOKEN": "s3cret-admin"}).client_token("reader") == generated


def test_unreadable_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts: [unclosed")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_settings(bad)


def test_shipped_realm_yaml_is_valid(tmp_path):
    raw = yaml.safe_load((Path(__file__).resolve().parents[3] / "realm.yaml").read_text())
    settings = settings_from_dict(raw, root=tmp_path, env={})
    assert set(settings.services) >= {"vault", "curriculum", "inference", "trainer", "warden"}
    assert all(s.connect_host in ("127.0.0.1", "::1") for s in settings.services.values())
