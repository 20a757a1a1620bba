"""Binding by the google.api.http rules, the status table, JSON depth, stop-sequence hold-back, the OpenAPI
document (one operation per RPC), and the edge's small pure helpers."""

from __future__ import annotations

import grpc
import pytest

from realm.inference.v1 import inference_pb2 as ipb
from realm.trainer.v1 import trainer_pb2
from realm.vault.v1 import vault_pb2
from services.gateway.config import GatewayConfig
from services.gateway.edge import host_allowed, json_depth, parse_json
from services.gateway.errors import HTTP_STATUS, HttpError, openai_body, status_body, tgi_body, tgi_status
from services.gateway.generation import Choice, model_name
from services.gateway.openapi import openapi_document, openapi_path
from services.gateway.routes import build_request, query_to_dict
from services.gateway.transcoding import PREFIX, all_routes, is_event_stream


def find(service, method):
    return next(r for r in all_routes() if r.service == service and r.method.name == method)


def test_status_table_is_grpc_gateways():
    expected = {"FAILED_PRECONDITION": 400, "ALREADY_EXISTS": 409, "RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503,
                "DEADLINE_EXCEEDED": 504, "CANCELLED": 499, "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403,
                "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501, "DATA_LOSS": 500, "NOT_FOUND": 404}
    assert {code.name: HTTP_STATUS[code] for code in grpc.StatusCode if code.name in expected} == expected


def test_error_shapes_per_surface():
    error = HttpError(400, "page_size: must be >= 0", field="page_size")
    assert status_body(error) == {"code": 3, "message": "page_size: must be >= 0", "details": [
        {"@type": "type.googleapis.com/google.rpc.BadRequest",
         "fieldViolations": [{"field": "page_size", "description": "page_size: must be >= 0"}]}]}
    assert openai_body(error) == {"error": {"message": "page_size: must be >= 0", "type": "invalid_request_error",
                                            "param": "page_size", "code": "invalid_argument"}}
    assert tgi_body(error) == {"error": "page_size: must be >= 0", "error_type": "validation"}
    assert tgi_status(error) == 422
    assert tgi_status(HttpError(429, "queue full", code=grpc.StatusCode.RESOURCE_EXHAUSTED)) == 429
    assert tgi_status(HttpError(503, "backend gone", code=grpc.StatusCode.UNAVAILABLE)) == 424


def test_repeated_and_dotted_query_fields():
    assert query_to_dict(trainer_pb2.ListQuestsRequest.DESCRIPTOR,
                         [("states", "QUEST_STATE_QUEUED"), ("states", "2")]) == {
        "states": ["QUEST_STATE_QUEUED", trainer_pb2.QuestState.Name(2)]}
    route = find("trainer", "UpdateCampaign")
    request = build_request(route, trainer_pb2.UpdateCampaignRequest, {"campaign.name": "campaigns/c1"},
                            [("update_mask", "displayName,description")], {"display_name": "x"})
    assert list(request.update_mask.paths) == ["display_name", "description"]
    with pytest.raises(HttpError, match="bound by the path or body"):
        build_request(route, trainer_pb2.UpdateCampaignRequest, {"campaign.name": "campaigns/c1"},
                      [("campaign.display_name", "y")], {})


def test_query_type_errors_name_the_field():
    descriptor = vault_pb2.ListAssetsRequest.DESCRIPTOR
    for query, field in ([("page_size", "lots")], "page_size"), ([("page_size", "99999999999")], "page_size"), \
            ([("kind", "NOT_A_KIND")], "kind"), ([("page_size", "1"), ("page_size", "2")], "page_size"):
        with pytest.raises(HttpError) as caught:
            query_to_dict(descriptor, query)
        assert caught.value.status == 400 and caught.value.field == field


def test_body_star_takes_no_query_and_bodies_must_be_objects():
    route = find("vault", "AppendLedgerEvent")
    with pytest.raises(HttpError, match="not from query parameters: campaign"):
        build_request(route, vault_pb2.AppendLedgerEventRequest, {}, [("campaign", "x")], {})
    with pytest.raises(HttpError, match="expected a JSON object"):
        build_request(route, vault_pb2.AppendLedgerEventRequest, {}, [], [1, 2])
    with pytest.raises(HttpError) as caught:
        build_request(route, vault_pb2.AppendLedgerEventRequest, {}, [], {"event": {"sequence": "abc"}})
    assert "sequence" in caught.value.message


def test_path_values_are_percent_decoded():
    route = find("vault", "GetAsset")
    assert route.match("GET", "/v1/assets/a%20b") == {"name": "assets/a b"}
    assert route.match("GET", "/v1/assets/a/b") is None


def test_json_depth_is_checked_before_parsing():
    assert json_depth(b'{"a": [1, {"b": "[[[[not brackets]]]]"}]}') == 3
    assert json_depth(b'"\\"[["') == 0
    with pytest.raises(HttpError, match="nested 100 levels"):
        parse_json(b"[" * 100 + b"]" * 100, 64)
    assert parse_json(b"  ", 64) is None


def test_stop_sequences_are_held_back_until_decided():
    choice = Choice(0, ("END",))
    pieces = [choice.add_token(ipb.Token(text=t)) for t in ("hel", "lo E", "N", "D more")]
    assert pieces == ["hel", "lo ", "", ""]
    assert choice.finish(ipb.ChatStreamResponse(summary=ipb.GenerationSummary(), text="hello ")) == ""
    held = Choice(0, ("END",))
    assert [held.add_token(ipb.Token(text=t)) for t in ("a E", "x")] == ["a ", "Ex"]


def test_openapi_has_one_operation_per_rpc_with_schemas():
    routes = all_routes()
    document = openapi_document(routes, PREFIX)
    operations = [op for ops in document["paths"].values() for op in ops.values()]
    assert len(operations) == len(routes)
    assert len({op["operationId"] for op in operations}) == len(routes)
    assert openapi_path(PREFIX, "/v1/{name=campaigns/*/aliases/**}")[0] == "/api/v1/campaigns/{campaign}/aliases/{alias}"
    watch = document["paths"]["/api/v1/ledger:watch"]["get"]
    assert "text/event-stream" in watch["responses"]["200"]["content"]
    assert "vault.v1.LedgerEvent" in str(document["components"]["schemas"]["realm.vault.v1.WatchLedgerResponse"])
    assert is_event_stream(find("vault", "WatchLedger")) and not is_event_stream(find("warden", "WatchFleet"))


def test_host_allow_list_and_model_names():
    allowed = frozenset({"localhost", "127.0.0.1", "::1"})
    assert host_allowed("127.0.0.1:8888", allowed) and host_allowed("[::1]:80", allowed)
    assert not host_allowed("evil.example", allowed) and not host_allowed("", allowed)
    config = GatewayConfig(addresses={})
    assert model_name(config, None) == model_name(config, "dummy") == model_name(config, "tgi") == "models/default"
    assert model_name(config, "best/bin") == "models/best/bin"
