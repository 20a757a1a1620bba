"""Browser sessions outlive a gateway restart: the signed cookie (and its CSRF token) still works on a new gateway
process state built from the same settings, an SSE stream resumes from Last-Event-ID with no gap and no duplicate,
and a signed-out, tampered or re-tokened cookie stays refused after the restart."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat

import aiohttp
import pytest

from fixtures.kit import ADMIN_TOKEN, make_test_settings, serve_for_test
from services.gateway.config import EdgeToken
from services.gateway.session_state import KEY_FILE, REVOCATIONS_FILE
from services.vault.app import setup as vault_setup

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
WATCH = "/api/v1/ledger:watch"


def with_cookie(cookie: str, **headers: str) -> dict[str, str]:
    return {"Cookie": f"realm_session={cookie}", **headers}


async def sign_in(url: str, token: str) -> tuple[str, str]:
    async with aiohttp.ClientSession(url) as http, http.post("/api/session",
                                                              headers={"Authorization": f"Bearer {token}"}) as reply:
        assert reply.status == 200, await reply.text()
        return reply.cookies["realm_session"].value, (await reply.json())["csrf_token"]


async def note(http: aiohttp.ClientSession, text: str, headers: dict[str, str]) -> int:
    async with http.post("/api/v1/ledger", headers=headers,
                         json={"event": {"kind": "LEDGER_EVENT_KIND_NOTE", "message": text}}) as response:
        assert response.status == 200, await response.text()
        return int((await response.json())["event"]["sequence"])


async def sse_events(response, count: int) -> list[int]:
    ids, current = [], None
    while len(ids) < count:
        line = (await asyncio.wait_for(response.content.readline(), 30)).decode().rstrip("\n")
        if line.startswith("id: "):
            current = int(line[4:])
        elif line.startswith("data: "):
            assert int(json.loads(line[6:])["event"]["sequence"]) == current
            ids.append(current)
    return ids


async def test_a_session_survives_a_gateway_restart_and_its_stream_resumes_without_gap_or_duplicate(
        tmp_path, start_gateway):
    settings = make_test_settings(tmp_path)
    async with serve_for_test(settings, "vault", vault_setup) as vault:
        addresses = {"vault": vault.address}
        async with start_gateway(settings, addresses) as first:
            cookie, csrf = await sign_in(first.url, ADMIN_TOKEN)
            async with aiohttp.ClientSession(first.url) as http:
                written = [await note(http, f"before {i}", with_cookie(cookie, **{"X-CSRF-Token": csrf}))
                           for i in range(4)]
                async with http.get(WATCH, params={"replay": "true"}, headers=with_cookie(cookie)) as response:
                    seen = await sse_events(response, 2)
        assert seen == written[:2]
        key = tmp_path / "var" / KEY_FILE
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        async with start_gateway(settings, addresses) as second:
            async with aiohttp.ClientSession(second.url) as http:
                later = [await note(http, f"after {i}", ADMIN) for i in range(2)]
                async with http.get("/api/session", headers=with_cookie(cookie)) as response:
                    assert response.status == 200
                    assert await response.json() == {"role": "admin", "csrf_token": csrf}
                # The CSRF token handed out before the restart still guards (and allows) writes.
                async with http.post("/api/v1/ledger", headers=with_cookie(cookie),
                                     json={"event": {"kind": "LEDGER_EVENT_KIND_NOTE", "message": "x"}}) as response:
                    assert response.status == 403
                later.append(await note(http, "after csrf", with_cookie(cookie, **{"X-CSRF-Token": csrf})))
                expected = [s for s in written + later if s > seen[-1]]
                async with http.get(WATCH, headers=with_cookie(cookie, **{"Last-Event-ID": str(seen[-1])})) as response:
                    resumed = await sse_events(response, len(expected))
                assert resumed == expected  # every event after the last one seen, once, in order
                async with http.delete("/api/session", headers=with_cookie(cookie, **{"X-CSRF-Token": csrf})) as r:
                    assert r.status == 200
                async with http.get("/api/v1/fleet", headers=with_cookie(cookie)) as response:
                    assert response.status == 401
        assert (tmp_path / "var" / REVOCATIONS_FILE).exists()
        async with start_gateway(settings, addresses) as third:
            async with aiohttp.ClientSession(third.url) as http:
                async with http.get("/api/session", headers=with_cookie(cookie)) as response:
                    assert response.status == 401  # signed out stays signed out after a restart
                async with http.get(WATCH, headers=with_cookie(cookie)) as response:
                    assert response.status == 401


async def test_tampered_and_re_tokened_cookies_are_refused_after_a_restart(tmp_path, start_gateway):
    settings = make_test_settings(tmp_path)
    async with serve_for_test(settings, "vault", vault_setup) as vault:
        addresses = {"vault": vault.address}
        async with start_gateway(settings, addresses) as first:
            reader_cookie, _ = await sign_in(first.url, "read-token")
            admin_cookie, _ = await sign_in(first.url, ADMIN_TOKEN)
        version, payload, signature = reader_cookie.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert set(claims) == {"sid", "tok", "fp", "role", "exp"} and "read-token" not in reader_cookie
        forged_claims = {**claims, "role": "admin"}
        forged = ".".join([version, base64.urlsafe_b64encode(
            json.dumps(forged_claims).encode()).rstrip(b"=").decode(), signature])
        async with start_gateway(settings, addresses) as second:
            async with aiohttp.ClientSession(second.url) as http:
                for bad in (forged, reader_cookie[:-2] + "AA", "v1.e30.AAAA", "garbage"):
                    async with http.get("/api/session", headers=with_cookie(bad)) as response:
                        assert response.status == 401, bad
                async with http.get("/api/session", headers=with_cookie(reader_cookie)) as response:
                    assert (await response.json())["role"] == "read"
        # The admin token's value changes in realm.yaml: its sessions end; the reader's (unchanged) go on.
        tokens = (EdgeToken("admin", "admin", "a-new-admin-token"), EdgeToken("reader", "read", "read-token"))
        async with start_gateway(settings, addresses, tokens=tokens) as third:
            async with aiohttp.ClientSession(third.url) as http:
                async with http.get("/api/session", headers=with_cookie(admin_cookie)) as response:
                    assert response.status == 401
                async with http.get("/api/session", headers=with_cookie(reader_cookie)) as response:
                    assert response.status == 200
