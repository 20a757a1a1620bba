"""The effective-configuration view: secrets redacted by key, by token entry and inside URLs; settings kept."""

from __future__ import annotations

import json

from services.gateway.config_view import REDACTED, effective_view, redact

RAW = {
    "auth": {"tokens": [{"name": "admin", "role": "admin", "value": "s3cret-admin"},
                        {"name": "ci", "role": "read", "env": "REALM_CI_TOKEN"},
                        {"name": "disk", "role": "read", "file": "var/secrets/read.token"}],
             "client_token": "admin"},
    "inference": {"max_new_tokens": 256, "hf_token": "hf_abc", "tokenizer": "fast",
                  "backends": [{"url": "http://user:pa55@tgi:8080/", "api_key": "sk-1"}]},
    "vault": {"keep_last": 5, "secrets": ["one", "two"]},
    "gateway": {"session_secret": "", "allowed_hosts": ["realm.lan"]},
}


def test_secrets_are_redacted_and_every_other_value_is_kept():
    found: list[str] = []
    view = redact(RAW, found=found)
    tokens = view["auth"]["tokens"]
    assert tokens[0] == {"name": "admin", "role": "admin", "value": REDACTED}
    assert tokens[1]["env"] == "REALM_CI_TOKEN" and tokens[2]["file"] == "var/secrets/read.token"
    assert view["inference"]["hf_token"] == REDACTED and view["inference"]["backends"][0]["api_key"] == REDACTED
    assert view["inference"]["backends"][0]["url"] == f"http://user:{REDACTED}@tgi:8080/"
    assert view["inference"]["max_new_tokens"] == 256 and view["inference"]["tokenizer"] == "fast"
    assert view["vault"] == {"keep_last": 5, "secrets": [REDACTED, REDACTED]}
    assert view["gateway"] == {"session_secret": "", "allowed_hosts": ["realm.lan"]}
    assert "auth.tokens[0].value" in found and "inference.backends[0].url" in found
    for secret in ("s3cret-admin", "hf_abc", "pa55", "sk-1", '"one"'):
        assert secret not in json.dumps(view)


def test_the_view_names_its_source_and_leaves_the_input_alone():
    view = effective_view(RAW, "/etc/realm.yaml")
    assert view["source"] == "/etc/realm.yaml" and view["settings"]["auth"]["client_token"] == REDACTED
    assert RAW["auth"]["tokens"][0]["value"] == "s3cret-admin"
