"""The supervisor's children get the environment services need and none of the operator's secrets."""

from __future__ import annotations

from fixtures.kit import config_dict_for_tests
from realm.settings import settings_from_dict
from realm_ops.environment import child_environment


def settings_with_env_token(tmp_path, variable: str):
    raw = config_dict_for_tests(tmp_path / "var")
    raw["auth"]["tokens"].append({"name": "ci", "role": "read", "env": variable})
    return settings_from_dict(raw, root=tmp_path, env={variable: "token-from-the-environment"})


def test_secrets_stay_out_and_what_services_need_goes_in(tmp_path):
    settings = settings_with_env_token(tmp_path, "REALM_CI_TOKEN")
    environ = {
        "PATH": "/usr/bin", "HOME": "/root", "LC_ALL": "C.UTF-8", "VIRTUAL_ENV": "/venv",
        "REALM__SERVICES__VAULT__PORT": "6000", "REALM_HOST": "local", "CUDA_VISIBLE_DEVICES": "0",
        "HF_HUB_OFFLINE": "1", "REALM_CI_TOKEN": "token-from-the-environment",
        "REALM_TOKEN": "operator-admin-token", "AWS_SECRET_ACCESS_KEY": "k", "SSH_AUTH_SOCK": "/tmp/agent",
        "GITHUB_TOKEN": "g", "EXTRA_FOR_TRAINER": "x",
    }
    env = child_environment(settings, environ, extra_names=["EXTRA_FOR_TRAINER"])
    assert env == {
        "PATH": "/usr/bin", "HOME": "/root", "LC_ALL": "C.UTF-8", "VIRTUAL_ENV": "/venv",
        "REALM__SERVICES__VAULT__PORT": "6000", "REALM_HOST": "local", "CUDA_VISIBLE_DEVICES": "0",
        "HF_HUB_OFFLINE": "1", "REALM_CI_TOKEN": "token-from-the-environment", "EXTRA_FOR_TRAINER": "x",
        "PYTHONUNBUFFERED": "1",
    }


def test_realm_token_goes_through_only_when_realm_yaml_names_it_as_a_token_source(tmp_path):
    settings = settings_with_env_token(tmp_path, "REALM_TOKEN")
    env = child_environment(settings, {"REALM_TOKEN": "token-from-the-environment"})
    assert env["REALM_TOKEN"] == "token-from-the-environment"
