from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fixtures.heroes import build_test_hero
from services.inference.engine import EngineConfig
from services.inference.params import GenerationLimits
from services.inference.transformers_backend import LoadOptions, TransformersBackend

torch.set_num_threads(1)

PROMPTS = [
    "1011 + 0110 =",
    "How many letters are in 'apple'? Answer:",
    "the hero",
    "word puzzle syllable count letters answer question solve add sum binary number",
    "apple banana cherry",
]


@pytest.fixture(scope="session")
def hero_dir(tmp_path_factory) -> Path:
    return build_test_hero(tmp_path_factory.mktemp("hero") / "tiny-hero")


@pytest.fixture
async def backend(hero_dir):
    loaded = TransformersBackend.load(hero_dir, LoadOptions(), limits=GenerationLimits(),
                                      engine_config=EngineConfig(max_batch_size=8, max_queue=8),
                                      model_label="test")
    yield loaded
    await loaded.close()
