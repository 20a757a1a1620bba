"""Shared fixtures for the training worker's unit tests: one tiny hero per test session."""

from __future__ import annotations

import pytest
import torch

from realm_ops.tiny_hero import build_tiny_hero


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_hero_dir(tmp_path_factory):
    return build_tiny_hero(tmp_path_factory.mktemp("hero") / "tiny", hidden_size=64, num_layers=2, vocab_size=512)
