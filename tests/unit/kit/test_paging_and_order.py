import pytest

from realm_ops.supervisor import start_order
from services.kit.config import ServiceEndpoint
from services.kit.errors import InvalidArgument, RealmError
from services.kit.paging import paginate


def test_paginate_walks_every_item_once():
    items = list(range(7))
    seen, token = [], ""
    while True:
        page, token = paginate(items, 3, token)
        seen += page
        if not token:
            break
    assert seen == items


@pytest.mark.parametrize("token", ["garbage!", "e30", "WzFd"])
def test_paginate_rejects_foreign_tokens(token):
    with pytest.raises(InvalidArgument) as caught:
        paginate([1, 2, 3], 2, token if token != "e30" else "eyJvZmZzZXQiOiAtMX0")
    assert caught.value.field == "page_token"


def test_negative_page_size_names_field():
    with pytest.raises(InvalidArgument, match="page_size"):
        paginate([1], -1, "")


def endpoint(name, deps):
    return ServiceEndpoint(name, "local", "127.0.0.1", "127.0.0.1", 0, None, tuple(deps), True)


def test_start_order_respects_dependencies():
    services = [endpoint("trainer", ["vault", "curriculum"]), endpoint("curriculum", ["vault"]),
                endpoint("vault", []), endpoint("warden", [])]
    order = [s.name for s in start_order(services)]
    assert order.index("vault") < order.index("curriculum") < order.index("trainer")


def test_start_order_detects_cycles():
    with pytest.raises(ValueError, match="cycle"):
        start_order([endpoint("a", ["b"]), endpoint("b", ["a"])])


def test_error_describe_names_field():
    assert str(InvalidArgument("must be > 0", field="count")) == "count: must be > 0"
    assert RealmError("x").code == "INTERNAL"
