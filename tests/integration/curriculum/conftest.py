"""A real curriculum server on 127.0.0.1 port 0, with the SDK pointed at it."""

from __future__ import annotations

import pytest

from fixtures.kit import make_test_settings, serve_for_test
from services.curriculum.app import setup


@pytest.fixture
async def curriculum(tmp_path):
    settings = make_test_settings(tmp_path, curriculum={"eval_window": 2})
    async with serve_for_test(settings, "curriculum", setup) as running:
        yield running
