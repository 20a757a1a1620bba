"""One test per security finding (ambient token, pre-auth body size, deep JSON, forged page token, Host check, slow
headers) and the rest of the hardened edge, over a real vault and warden."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest

from fixtures.kit import ADMIN_TOKEN, READ_TOKEN, make_test_settings, serve_for_test
from realm.sdk.aio import connect_aio
from services.vault.app import setup as vault_setup
from services.warden.app import setup as warden_setup

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READ = {"Authorization": f"Bearer {READ_TOKEN}"}
NOTE = {"event": {"kind": "LEDGER_EVENT_KIND_NOTE", "message": "hi"}}


@pytest.fixture
async def edge(tmp_path, start_gateway):
    settings = make_test_settings(tmp_path, gateway={"body_limits": {"json_bytes": 65536}})
    async with serve_for_test(settings, "vault", vault_setup) as vault, \
            serve_for_test(settings, "warden", warden_setup) as warden:
        addresses = {"vault": vault.address, "warden": warden.address}
        async with start_gateway(settings, addresses, header_timeout_seconds=0.3) as running:
            async with aiohttp.ClientSession(running.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
                yield session, running


async def raw_exchange(port: int, head: bytes, body: bytes = b"") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + body)
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(), 30)  # until the server closes
    writer.close()
    return reply


async def test_an_ambient_realm_token_never_acts_for_an_anonymous_caller(edge, monkeypatch):
    session, running = edge
    monkeypatch.setenv("REALM_TOKEN", ADMIN_TOKEN)
    async with session.get("/api/v1/fleet") as response:
        assert response.status == 401
    async with session.post("/api/v1/ledger", json=NOTE) as response:
        assert response.status == 401
    assert connect_aio(addresses={"vault": "127.0.0.1:1"}).token is None
    assert connect_aio(addresses={"vault": "127.0.0.1:1"}, ambient_token=True).token == ADMIN_TOKEN


async def test_bodies_are_refused_before_they_are_read(edge):
    _, running = edge
    huge = (b"POST /api/v1/ledger HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1073741824\r\n")
    anonymous = await raw_exchange(running.port, huge + b"\r\n")  # not one byte of the 1 GiB is ever sent
    assert anonymous.startswith(b"HTTP/1.1 401")
    too_big = await raw_exchange(running.port, huge + f"Authorization: Bearer {ADMIN_TOKEN}\r\n\r\n".encode())
    assert too_big.startswith(b"HTTP/1.1 413")
    chunked = (b"POST /api/v1/ledger HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
               + f"Authorization: Bearer {ADMIN_TOKEN}\r\n\r\n".encode() + b"a000\r\n" + b" " * 40960 + b"\r\n"
               + b"a000\r\n" + b" " * 40960 + b"\r\n0\r\n\r\n")
    assert (await raw_exchange(running.port, chunked)).startswith(b"HTTP/1.1 413")


async def test_deep_or_non_object_json_is_a_400_naming_the_body(edge):
    session, _ = edge
    deep = b"{\"a\":" * 2000 + b"1" + b"}" * 2000
    async with session.post("/api/v1/ledger", data=deep, headers=ADMIN) as response:
        assert response.status == 400 and "nested" in (await response.json())["message"]
    async with session.post("/api/v1/ledger", data=b"[" * 10000 + b"]" * 10000, headers=ADMIN) as response:
        assert response.status == 400
    async with session.post("/api/v1/ledger", data=b"5", headers=ADMIN) as response:
        body = await response.json()
        assert response.status == 400 and body["code"] == 3 and "JSON object" in body["message"]
    async with session.post("/api/v1/ledger", json={"event": {"kind": 7.5}}, headers=ADMIN) as response:
        assert response.status == 400 and "kind" in (await response.json())["message"]


async def test_forged_page_tokens_and_wrong_types_are_400(edge):
    session, _ = edge
    for path in ("/api/v1/ledger?page_token=forged", "/api/v1/hosts?page_token=AAAA",
                 "/api/v1/assets?page_token=eyJ4IjoxfQ"):
        async with session.get(path, headers=READ) as response:
            assert response.status == 400, (path, await response.text())
    async with session.get("/api/v1/ledger?page_size=lots", headers=READ) as response:
        body = await response.json()
        assert response.status == 400 and body["details"][0]["fieldViolations"][0]["field"] == "page_size"
    async with session.post("/api/v1/ledger?campaign=x", json=NOTE, headers=ADMIN) as response:
        assert response.status == 400 and "campaign" in (await response.json())["message"]  # body "*": no query
    async with session.delete("/api/v1/ledger", headers=ADMIN) as response:
        assert response.status == 405 and (await response.json())["code"] == 12


async def test_host_header_must_be_on_the_allow_list(edge):
    session, running = edge
    async with session.get("/healthz", headers={"Host": "evil.example"}) as response:
        assert response.status == 421
    for host in (f"127.0.0.1:{running.port}", "localhost", "[::1]:8888"):
        async with session.get("/healthz", headers={"Host": host}) as response:
            assert response.status == 200, host


async def test_slow_headers_are_cut_off(edge):
    _, running = edge
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # and never the rest
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 30) == b""  # the server closed the connection
    writer.close()
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", running.port)
    assert await asyncio.wait_for(idle_reader.read(), 30) == b""  # a connection that never speaks, too
    idle_writer.close()


async def test_request_ids_are_validated_and_metrics_carry_the_status(edge):
    session, _ = edge
    async with session.get("/healthz", headers={"X-Request-Id": "abc-123"}) as response:
        assert response.headers["X-Request-Id"] == "abc-123"
    async with session.get("/healthz", headers={"X-Request-Id": "<script>alert(1)</script>"}) as response:
        assert response.headers["X-Request-Id"] != "<script>alert(1)</script>"
        assert re.fullmatch(r"[A-Za-z0-9._:\-]{1,128}", response.headers["X-Request-Id"])
    async with session.get("/api/v1/fleet") as response:
        assert response.status == 401
    async with session.get("/api/v1/fleet", headers=READ) as response:
        assert response.status == 200
    async with session.get("/metrics") as response:
        text = await response.text()
    assert 'realm_gateway_http_requests_total{method="GET",route="/api/v1/fleet",status="401"} 1.0' in text
    assert 'realm_gateway_http_requests_total{method="GET",route="/api/v1/fleet",status="200"} 1.0' in text


async def test_session_cookie_keeps_the_role_and_writes_need_csrf(edge):
    session, _ = edge
    async with session.post("/api/session", headers=READ) as response:
        assert response.status == 200
        cookie = response.headers["Set-Cookie"]
        reader_csrf = (await response.json())["csrf_token"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    async with session.get("/api/v1/fleet") as response:  # the cookie alone authenticates reads
        assert response.status == 200
    async with session.post("/api/v1/ledger", json=NOTE) as response:
        assert response.status == 403 and "CSRF" in (await response.json())["message"]
    async with session.post("/api/v1/ledger", json=NOTE, headers={"X-CSRF-Token": reader_csrf}) as response:
        assert response.status == 403 and (await response.json())["code"] == 7  # the read role, from the vault
    async with session.delete("/api/session", headers={"X-CSRF-Token": reader_csrf}) as response:
        assert response.status == 200
    async with session.get("/api/v1/fleet") as response:
        assert response.status == 401
    async with session.post("/api/session", headers=ADMIN) as response:
        admin_csrf = (await response.json())["csrf_token"]
    async with session.get("/api/session") as response:
        assert (await response.json()) == {"role": "admin", "csrf_token": admin_csrf}
    async with session.post("/api/v1/ledger", json=NOTE, headers={"X-CSRF-Token": admin_csrf}) as response:
        assert response.status == 200
    async with session.post("/api/v1/ledger", json=NOTE,
                            headers={"X-CSRF-Token": admin_csrf, "Origin": "http://evil.example"}) as response:
        assert response.status == 403


async def test_tavern_pages_forbid_inline_script(edge):
    session, _ = edge
    for path in ("/", "/docs"):
        async with session.get(path) as response:
            policy = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", await response.text())  # only <script src=…>
    async with session.get("/tavern/tavern.css") as response:
        assert response.status == 200
    async with session.get("/tavern/..%2Fapp.py") as response:
        assert response.status == 404
