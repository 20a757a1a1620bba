"""Vault references as model ids: which spellings are assets or aliases, and where short names resolve."""

from __future__ import annotations

import pytest

from services.inference.pool import parse_model_name
from services.inference.references import is_model_reference, parse_reference
from services.kit.errors import InvalidArgument, NotFound


def test_references_and_their_sources():
    assert parse_reference("models/latest").source("c1") == "campaigns/c1/aliases/latest"
    assert parse_reference("best/bin").source("c1") == "campaigns/c1/aliases/best/bin"
    assert parse_reference("aliases/keep-me").source("c2") == "campaigns/c2/aliases/keep-me"
    assert parse_reference("assets/0f3a").source("") == "assets/0f3a"
    full = parse_reference("campaigns/c7/aliases/best/syllo")
    assert (full.campaign, full.alias, full.source("c1")) == ("c7", "best/syllo", "campaigns/c7/aliases/best/syllo")
    assert parse_reference("hero") is None and parse_reference("/srv/ckpt") is None
    assert is_model_reference("latest") and not is_model_reference("var/heroes/tiny")


def test_short_alias_without_a_followed_campaign_is_not_found():
    with pytest.raises(NotFound, match="model"):
        parse_reference("latest").source("")


@pytest.mark.parametrize("text", ["assets/a/b", "best/", "campaigns/c/aliases/", "assets/../x", "best/a b"])
def test_malformed_references_name_the_model_field(text):
    with pytest.raises(InvalidArgument, match="^model"):
        parse_reference(text)


def test_model_names_accept_references():
    assert parse_model_name("models/best/bin") == "best/bin"
    assert parse_model_name("models/assets/0f3a") == "assets/0f3a"
    with pytest.raises(InvalidArgument, match="name"):
        parse_model_name("models/Bad Name")
