"""schemathesis over the gateway's own /openapi.json, against real vault, warden, curriculum, inference and trainer
services: bounded examples per operation, zero 5xx responses and zero schema violations.

Streaming operations are left out (schemathesis cannot follow an endless text/event-stream; test_sse covers
them), and so are client-streaming uploads (raw bytes; covered by test_uploads). The caller holds the read token:
reads run end to end, writes are bound and validated by the gateway and then refused by the service (403), so a
generated body never starts real work (a load from a random URL, a huge batch).
"""

from __future__ import annotations

import copy

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fixtures.kit import ADMIN_TOKEN, READ_TOKEN, make_test_settings, serve_for_test
from realm.sdk import connect
from services.curriculum.app import setup as curriculum_setup
from services.gateway.openapi import openapi_document
from services.gateway.transcoding import PREFIX, all_routes
from services.inference.app import setup as inference_setup
from services.trainer.app import build_domain
from services.trainer.app import setup as trainer_setup
from services.vault.app import setup as vault_setup
from services.warden.app import setup as warden_setup

pytestmark = pytest.mark.integration


def unary_document() -> dict:
    document = copy.deepcopy(openapi_document(all_routes(), PREFIX))
    for path, operations in list(document["paths"].items()):
        for verb, operation in list(operations.items()):
            content = {**operation["responses"]["200"]["content"], **operation.get("requestBody", {}).get("content", {})}
            if "text/event-stream" in content or "application/octet-stream" in content:
                del operations[verb]
        if not operations:
            del document["paths"][path]
    return document


schema = schemathesis.openapi.from_dict(unary_document())


@pytest.fixture(scope="module")
def api(tmp_path_factory, start_background_gateway):
    tmp = tmp_path_factory.mktemp("schemathesis")
    settings_ = make_test_settings(tmp)

    async def services(background):
        started = {}
        for name, setup in (("vault", vault_setup), ("warden", warden_setup), ("curriculum", curriculum_setup),
                            ("inference", inference_setup)):
            started[name] = await background.enter_async(serve_for_test(settings_, name, setup))
        addresses = {name: s.address for name, s in started.items()}
        domain = build_domain(settings_, realm=connect(addresses=addresses, token=ADMIN_TOKEN))

        async def trainer(server):
            await trainer_setup(server, domain=domain)
        started["trainer"] = await background.enter_async(serve_for_test(settings_, "trainer", trainer))
        return {name: s.address for name, s in started.items()}

    with start_background_gateway(settings_, services) as url:
        yield url


@schema.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate])
def test_every_unary_operation_conforms(case, api):
    case.call_and_validate(base_url=api, headers={"Authorization": f"Bearer {READ_TOKEN}"}, timeout=60,
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])
