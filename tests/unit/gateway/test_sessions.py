"""Signed session cookies: expiry by unix time, the key kept in the data dir (0600), CSRF bound to the session,
sign-outs remembered across store instances (a restart)."""

from __future__ import annotations

import os
import stat

import pytest

from services.gateway.config import EdgeToken, GatewayConfig
from services.gateway.session_state import KEY_FILE, load_or_create_key
from services.gateway.sessions import SessionStore

TOKENS = (EdgeToken("admin", "admin", "admin-token"), EdgeToken("reader", "read", "read-token"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def store_for(tmp_path, clock=None, **overrides) -> SessionStore:
    config = GatewayConfig(addresses={}, tokens=TOKENS, state_dir=tmp_path, **overrides)
    store = SessionStore(config, clock=clock or Clock())
    store.open()
    return store


def test_a_cookie_lasts_its_ttl_by_unix_time_and_no_longer(tmp_path):
    clock = Clock()
    store = store_for(tmp_path, clock, session_ttl_seconds=60)
    cookie, session = store.create("read-token", "read")
    assert store.from_cookie(cookie) == session
    clock.now += 59
    assert store_for(tmp_path, clock, session_ttl_seconds=60).from_cookie(cookie) == session  # a new process
    clock.now += 1
    assert store.from_cookie(cookie) is None


def test_the_key_is_minted_once_with_owner_only_permissions(tmp_path):
    first = load_or_create_key(tmp_path / KEY_FILE)
    assert load_or_create_key(tmp_path / KEY_FILE) == first and len(first) == 32
    assert stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode) == 0o600
    assert not [p for p in (tmp_path / KEY_FILE).parent.iterdir() if p.name.endswith(".tmp")]


def test_a_damaged_key_file_is_an_error_not_silently_replaced(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / KEY_FILE).write_text("short\n")
    with pytest.raises(ValueError, match="not a session key"):
        load_or_create_key(tmp_path / KEY_FILE)
    assert (tmp_path / KEY_FILE).read_text() == "short\n"


def test_csrf_tokens_are_per_session_and_cookies_of_another_key_are_refused(tmp_path):
    store = store_for(tmp_path / "a")
    one, first = store.create("admin-token", "admin")
    two, second = store.create("admin-token", "admin")
    assert first.csrf != second.csrf and first.session_id != second.session_id
    assert store_for(tmp_path / "b").from_cookie(one) is None  # signed with another data dir's key


def test_sign_out_is_remembered_by_the_next_store_and_forgotten_once_expired(tmp_path):
    clock = Clock()
    store = store_for(tmp_path, clock, session_ttl_seconds=100)
    cookie, session = store.create("read-token", "read")
    other, _ = store.create("read-token", "read")
    store.revocations.revoke(session.session_id, session.expires_at)
    store.close()
    restarted = store_for(tmp_path, clock, session_ttl_seconds=100)
    assert restarted.from_cookie(cookie) is None
    assert restarted.from_cookie(other) is not None
    clock.now += 200
    restarted.close()
    pruned = store_for(tmp_path, clock)  # load prunes sign-outs whose cookies have expired anyway
    assert pruned.revocations._revoked == {}


def test_without_a_data_dir_sessions_live_in_memory(tmp_path):
    store = SessionStore(GatewayConfig(addresses={}, tokens=TOKENS))
    store.open()
    cookie, session = store.create("admin-token", "admin")
    assert store.from_cookie(cookie) == session
    assert not list(tmp_path.iterdir())
