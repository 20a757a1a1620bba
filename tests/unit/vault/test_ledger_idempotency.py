from __future__ import annotations

import pytest

from services.kit.errors import InvalidArgument
from services.vault.domain import VaultDomain
from services.vault.models import LedgerEvent, LedgerEventKind


def _level_up(to_level: int) -> LedgerEvent:
    return LedgerEvent(kind=LedgerEventKind.LEVEL_UP, campaign="c1", message="bin up",
                       attributes={"skill": "bin", "to_level": str(to_level)})


def test_append_with_a_key_appends_once_and_survives_a_restart(domain, h, tmp_path, clock):
    first = domain.append_event(_level_up(2), idempotency_key="level-up/campaigns/c1/bin/2")
    again = domain.append_event(_level_up(2), idempotency_key="level-up/campaigns/c1/bin/2")
    assert again.sequence == first.sequence and again.attributes == first.attributes
    other = domain.append_event(_level_up(3), idempotency_key="level-up/campaigns/c1/bin/3")
    unkeyed = [domain.append_event(_level_up(3)) for _ in range(2)]
    assert len({other.sequence, *(e.sequence for e in unkeyed)}) == 3
    domain.close()
    reopened = VaultDomain(domain.config, clock=clock)
    try:
        assert reopened.append_event(_level_up(2), idempotency_key="level-up/campaigns/c1/bin/2").sequence \
            == first.sequence
        kinds = [e.kind for e in reopened.ledger_events(campaign="c1")]
        assert kinds.count(LedgerEventKind.LEVEL_UP) == 4
    finally:
        reopened.close()


def test_key_length_is_bounded(domain):
    with pytest.raises(InvalidArgument, match="idempotency_key"):
        domain.append_event(_level_up(2), idempotency_key="k" * 257)
