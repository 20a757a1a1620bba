import pytest

from realm.trainer.v1 import trainer_pb2
from realm.vault.v1 import vault_pb2
from services.gateway.app import all_routes
from services.gateway.routes import build_request, compile_template, query_to_dict


def find(service, method):
    return next(r for r in all_routes() if r.service == service and r.method.name == method)


def test_templates_capture_resource_names():
    regex, fields = compile_template("/v1/{name=campaigns/*/aliases/**}")
    assert fields == ("name",)
    assert regex.fullmatch("/v1/campaigns/c1/aliases/best/bin").group("v0") == "campaigns/c1/aliases/best/bin"
    assert regex.fullmatch("/v1/heroes/x") is None


def test_custom_verbs_do_not_swallow_the_colon():
    route = find("trainer", "ActivateCampaign")
    assert route.match("POST", "/v1/campaigns/c1:activate") == {"name": "campaigns/c1"}
    assert route.match("GET", "/v1/campaigns/c1:activate") is None
    assert find("trainer", "GetCampaign").match("GET", "/v1/campaigns/c1") == {"name": "campaigns/c1"}


def test_every_route_is_unambiguous_for_its_own_example():
    routes = all_routes()
    assert len(routes) > 60
    seen = set()
    for route in routes:
        key = (route.verb, route.template)
        assert key not in seen, key
        seen.add(key)


def test_request_from_path_query_and_body():
    route = find("trainer", "UpdateCampaign")
    request = build_request(route, trainer_pb2.UpdateCampaignRequest, {"campaign.name": "campaigns/c1"},
                            [("update_mask", "displayName")], {"display_name": "Night run"})
    assert request.campaign.name == "campaigns/c1"
    assert request.campaign.display_name == "Night run"
    assert list(request.update_mask.paths) == ["display_name"]

    route = find("vault", "ListAssets")
    request = build_request(route, vault_pb2.ListAssetsRequest, {}, [("page_size", "5"), ("kind", "ASSET_KIND_CHECKPOINT")],
                            None)
    assert request.page_size == 5 and request.kind == vault_pb2.ASSET_KIND_CHECKPOINT


def test_query_rejects_unknown_parameters_by_name():
    with pytest.raises(ValueError, match="nope"):
        query_to_dict(vault_pb2.ListAssetsRequest.DESCRIPTOR, [("nope", "1")])
    assert query_to_dict(trainer_pb2.ListQuestsRequest.DESCRIPTOR, [("states", "QUEST_STATE_QUEUED")] * 2) == {
        "states": ["QUEST_STATE_QUEUED", "QUEST_STATE_QUEUED"]
    }
