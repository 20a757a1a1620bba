"""The background-task RPCs through the gateway's REST transcoding (routes come from the http annotations)."""

import aiohttp
import pytest

from fixtures.kit import ADMIN_TOKEN, READ_TOKEN, make_test_settings, serve_for_test
from services.inference.app import setup

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READ = {"Authorization": f"Bearer {READ_TOKEN}"}


@pytest.fixture
async def gateway(tmp_path, start_gateway):
    settings = make_test_settings(tmp_path)
    async with serve_for_test(settings, "inference", setup) as inference:
        async with start_gateway(settings, {"inference": inference.address}) as running:
            async with aiohttp.ClientSession(running.url) as session:
                yield session


async def test_tasks_over_rest(gateway):
    body = {"kind": "passives", "priority": 70, "parameters": {"campaign": "c1"}, "display_name": "baseline"}
    async with gateway.post("/api/v1/tasks?task_id=rest-1", json=body, headers=ADMIN) as response:
        assert response.status == 200, await response.text()
        created = await response.json()
        assert created["task"]["name"] == "tasks/rest-1" and created["task"]["state"] == "TASK_STATE_QUEUED"
    async with gateway.get("/api/v1/tasks/rest-1", headers=READ) as response:
        assert (await response.json())["task"]["parameters"] == {"campaign": "c1"}
    async with gateway.get("/api/v1/tasks?kind=passives", headers=READ) as response:
        listed = await response.json()
        assert [t["name"] for t in listed["tasks"]] == ["tasks/rest-1"] and listed["scheduler"]["idle"] is True
    async with gateway.post("/api/v1/tasks:claim", json={"worker": "rest", "kinds": ["passives"]},
                            headers=ADMIN) as response:
        assert (await response.json())["task"]["state"] == "TASK_STATE_RUNNING"
    async with gateway.post("/api/v1/tasks/rest-1:finish", json={"worker": "rest", "succeeded": True,
                                                                 "result": {"sets": "3"}}, headers=ADMIN) as response:
        assert (await response.json())["task"]["result"] == {"sets": "3"}
    async with gateway.post("/api/v1/tasks/rest-1:cancel", json={}, headers=ADMIN) as response:
        assert response.status == 400  # FAILED_PRECONDITION: already SUCCEEDED
    async with gateway.post("/api/v1/tasks", json={"kind": "BAD"}, headers=ADMIN) as response:
        assert response.status == 400 and "task.kind" in (await response.json())["message"]
    async with gateway.post("/api/v1/tasks", json=body, headers=READ) as response:
        assert response.status == 403
