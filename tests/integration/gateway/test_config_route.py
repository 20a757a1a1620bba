"""GET /api/config through a real gateway: the effective realm.yaml for any signed-in role, no token in it."""

from __future__ import annotations

import aiohttp
import pytest

from fixtures.kit import ADMIN_TOKEN, READ_TOKEN, make_test_settings

pytestmark = pytest.mark.integration


async def test_config_is_served_redacted_to_signed_in_callers_only(tmp_path, start_gateway):
    settings = make_test_settings(tmp_path, inference={"max_new_tokens": 64, "hf_token": "hf_live"})
    async with start_gateway(settings, {}) as gateway, aiohttp.ClientSession(gateway.url) as http:
        async with http.get("/api/config") as response:
            assert response.status == 401
        async with http.get("/api/config", headers={"Authorization": f"Bearer {READ_TOKEN}"}) as response:
            assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
            body = await response.text()
            view = await response.json()
        for secret in (ADMIN_TOKEN, READ_TOKEN, "hf_live"):
            assert secret not in body
        assert view["settings"]["inference"]["max_new_tokens"] == 64
        assert [t["name"] for t in view["settings"]["auth"]["tokens"]] == ["admin", "reader"]
        assert "auth.tokens[0].value" in view["redacted"]
