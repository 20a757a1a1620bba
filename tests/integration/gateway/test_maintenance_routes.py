"""The kit's MaintenanceService (backups) through the gateway: routed by the service named in the path to that
service's own address, admin only, caller errors for unknown or unconfigured services, and in /openapi.json."""

from __future__ import annotations

import aiohttp
import pytest

from fixtures.kit import ADMIN_TOKEN, READ_TOKEN, make_test_settings, serve_for_test
from services.curriculum.app import setup as curriculum_setup
from services.vault.app import setup as vault_setup

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READ = {"Authorization": f"Bearer {READ_TOKEN}"}


@pytest.fixture
async def api(tmp_path, start_gateway):
    settings = make_test_settings(tmp_path)
    async with serve_for_test(settings, "vault", vault_setup) as vault:
        async with serve_for_test(settings, "curriculum", curriculum_setup) as curriculum:
            addresses = {"vault": vault.address, "curriculum": curriculum.address}
            async with start_gateway(settings, addresses) as running:
                async with aiohttp.ClientSession(running.url) as session:
                    yield session


async def json_of(response, status: int = 200) -> dict:
    body = await response.json()
    assert response.status == status, body
    return body


async def test_backups_are_routed_to_the_service_named_in_the_path(api):
    made = {}
    for service in ("vault", "curriculum"):
        async with api.post(f"/api/v1/services/{service}/backups", headers=ADMIN, json={}) as response:
            backup = (await json_of(response))["backup"]
        assert backup["name"].startswith(f"services/{service}/backups/") and backup["service"] == service
        assert backup["files"] and all(len(f["sha256"]) == 64 for f in backup["files"])
        made[service] = backup
    for service in ("vault", "curriculum"):
        async with api.get(f"/api/v1/services/{service}/backups", headers=ADMIN) as response:
            listed = (await json_of(response))["backups"]
        assert [b["name"] for b in listed] == [made[service]["name"]]  # each service's own backups only
    vault_stores = {f["store"] for f in made["vault"]["files"]}
    assert vault_stores.isdisjoint({f["store"] for f in made["curriculum"]["files"]})
    name = made["vault"]["name"]
    async with api.post(f"/api/v1/{name}:restore", headers=ADMIN, json={"validate_only": True}) as response:
        restored = await json_of(response)
    assert restored["state"] == "RESTORE_STATE_VALIDATED" and restored["backup"]["name"] == name


async def test_backups_need_the_admin_role(api):
    async with api.get("/api/v1/services/vault/backups", headers=READ) as response:
        assert (await json_of(response, 403))["code"] == 7  # PERMISSION_DENIED
    async with api.post("/api/v1/services/vault/backups", json={}) as response:
        assert response.status == 401
    async with api.post("/api/v1/services/vault/backups/x:restore", headers=READ, json={}) as response:
        assert response.status == 403


async def test_unknown_and_unconfigured_services_are_named(api):
    async with api.get("/api/v1/services/nope/backups", headers=ADMIN) as response:
        body = await json_of(response, 404)
    assert "nope" in body["message"] and body["message"].startswith("parent:")
    async with api.get("/api/v1/services/trainer/backups", headers=ADMIN) as response:
        assert "trainer" in (await json_of(response, 503))["message"]  # a real service, not behind this gateway
    async with api.post("/api/v1/services/vault/backups/not-a-backup:restore", headers=ADMIN,
                        json={}) as response:
        assert (await json_of(response, 400))["message"].startswith("name:")  # the vault's own check


async def test_backups_are_in_the_openapi_document(api):
    async with api.get("/openapi.json") as response:
        paths = (await json_of(response))["paths"]
    assert set(paths["/api/v1/services/{service}/backups"]) == {"get", "post"}
    restore = paths["/api/v1/services/{service}/backups/{backup}:restore"]["post"]
    assert restore["operationId"] == "MaintenanceService_RestoreBackup"
