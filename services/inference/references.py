"""Vault references usable as model ids: an asset or an alias names a checkpoint without loading it first.

    models/assets/{asset}                 the asset itself
    models/campaigns/{c}/aliases/{alias}  an alias of a named campaign
    models/latest, models/best/{skill}    an alias of the followed campaign (see AliasFollower)
    models/aliases/{alias}                any other alias (e.g. a user pin) of the followed campaign

A model loaded under an ordinary id (`models/hero`) always wins over the reference of the same spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.kit.errors import InvalidArgument, NotFound

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
MAX_REFERENCE_CHARS = 200


@dataclass(frozen=True)
class VaultReference:
    """`text` is how the caller spelled it (and the pool id it is served under); `campaign` is "" for a
    short alias name, resolved in the followed campaign."""

    text: str
    kind: str  # "asset" | "alias"
    campaign: str = ""
    alias: str = ""

    def source(self, followed_campaign: str) -> str:
        """The vault name to load: assets/{asset} or campaigns/{c}/aliases/{alias}."""
        if self.kind == "asset":
            return self.text
        campaign = self.campaign or followed_campaign
        if not campaign:
            raise NotFound(f"{self.text!r} names an alias of the followed campaign, and no campaign has moved its "
                           "`latest` alias yet; use campaigns/{campaign}/aliases/{alias}", field="model")
        return alias_name(campaign, self.alias)


def alias_name(campaign: str, alias: str) -> str:
    return f"campaigns/{campaign.removeprefix('campaigns/')}/aliases/{alias}"


def parse_reference(text: str) -> VaultReference | None:
    """The vault reference `text` spells, or None when it is not one (an ordinary model id or a directory)."""
    text = text.removeprefix("models/")
    if text == "latest" or text.startswith("best/"):
        return _checked(VaultReference(text, "alias", alias=text))
    if text.startswith("aliases/"):
        return _checked(VaultReference(text, "alias", alias=text.removeprefix("aliases/")))
    if text.startswith("assets/"):
        return _checked(VaultReference(text, "asset"))
    if text.startswith("campaigns/") and "/aliases/" in text:
        campaign, alias = text.removeprefix("campaigns/").split("/aliases/", 1)
        return _checked(VaultReference(text, "alias", campaign=campaign, alias=alias))
    return None


def is_model_reference(text: str) -> bool:
    try:
        return parse_reference(text) is not None
    except InvalidArgument:
        return True  # shaped like one, malformed: let the loader report it


def _checked(reference: VaultReference) -> VaultReference:
    parts = reference.text.split("/")
    if (len(reference.text) > MAX_REFERENCE_CHARS or not _NAME.match(reference.text) or ".." in parts
            or (reference.kind == "alias" and not reference.alias) or reference.text.endswith("/")):
        raise InvalidArgument(f"{reference.text[:80]!r} is not a valid asset or alias reference", field="model")
    if reference.kind == "asset" and len(parts) != 2:
        raise InvalidArgument("an asset reference is assets/{asset}", field="model")
    return reference
