"""The pinned default is never evicted; vault references load on demand and say which asset served them."""

from __future__ import annotations

import asyncio

import pytest

from services.inference.params import GenerationLimits, SamplingParams
from services.inference.pool import READY, LoadSpec
from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted

from .conftest import PROMPTS
from .test_pool import FakeVault, make_pool

GREEDY = SamplingParams.build(GenerationLimits(), max_new_tokens=4)


async def test_pinned_model_survives_any_number_of_loads(tmp_path, hero_dir):
    pool = make_pool(tmp_path, max_models=2)
    try:
        pinned = await pool.load(LoadSpec(source=str(hero_dir), model_id="default"), wait=True, pinned=True)
        assert pinned.pinned
        for index in range(5):  # trials loading one checkpoint after another
            await pool.load(LoadSpec(source=str(hero_dir), model_id=f"trial-{index}"), wait=True)
            assert [m.name for m in pool.list()] == ["models/default", f"models/trial-{index}"]
        assert (await pool.generate("models/default", PROMPTS[0], GREEDY)).summary.generated_tokens == 4
        # a swap of the pinned model keeps it pinned
        swapped = await pool.load(LoadSpec(source=str(hero_dir), model_id="default"), wait=True)
        assert swapped.pinned and swapped.state == READY
    finally:
        await pool.close()


async def test_a_pool_of_pinned_models_refuses_more(tmp_path, hero_dir):
    pool = make_pool(tmp_path, max_models=1)
    try:
        await pool.load(LoadSpec(source=str(hero_dir), model_id="default"), wait=True, pinned=True)
        with pytest.raises(ResourceExhausted, match="pinned"):
            await pool.load(LoadSpec(source=str(hero_dir), model_id="trial"), wait=True)
        assert pool.get("models/default").state == READY
    finally:
        await pool.close()


async def test_references_load_on_demand_and_summaries_name_the_asset(tmp_path, hero_dir):
    vault = FakeVault(hero_dir, asset="assets/ckpt-7")
    pool = make_pool(tmp_path, vault=vault, max_models=3)
    try:
        with pytest.raises(NotFound, match="no campaign"):  # a short alias needs a followed campaign
            await pool.generate("models/latest", PROMPTS[0], GREEDY)
        pool.followed_campaign = "c1"
        first, second = await asyncio.gather(pool.generate("models/latest", PROMPTS[0], GREEDY),
                                             pool.generate("latest", PROMPTS[1], GREEDY))
        assert first.summary.asset == second.summary.asset == "assets/ckpt-7"
        assert first.summary.model == "models/latest" and first.summary.source == "campaigns/c1/aliases/latest"
        view = pool.get("models/latest")
        assert view.followed_alias == "campaigns/c1/aliases/latest" and not view.pinned
        by_asset = await pool.generate("models/assets/ckpt-7", PROMPTS[0], GREEDY)
        assert by_asset.summary.asset == "assets/ckpt-7" and pool.get("models/assets/ckpt-7").followed_alias == ""
        assert len(vault.pulls) == 1  # one cached copy serves both
        with pytest.raises(FailedPrecondition, match="^model: vault: LookupError"):  # FakeVault knows only latest
            await pool.generate("models/best/none", PROMPTS[0], GREEDY)
        assert "models/best/none" not in [m.name for m in pool.list()]  # a failed on-demand load leaves nothing
        with pytest.raises(NotFound):
            await pool.generate("models/hero", PROMPTS[0], GREEDY)  # plain ids never load on demand
    finally:
        await pool.close()


async def test_local_model_summary_names_its_source(tmp_path, hero_dir):
    pool = make_pool(tmp_path, max_models=1)
    try:
        await pool.load(LoadSpec(source=str(hero_dir), model_id="hero"), wait=True)
        summary = (await pool.generate("models/hero", PROMPTS[0], GREEDY)).summary
        assert (summary.model, summary.asset, summary.source) == ("models/hero", "", str(hero_dir))
    finally:
        await pool.close()


async def test_oversized_prompts_and_chats_are_refused_before_tokenising(tmp_path, hero_dir):
    pool = make_pool(tmp_path, max_models=1)
    try:
        await pool.load(LoadSpec(source=str(hero_dir), model_id="hero"), wait=True)
        big = "1" * (pool._limits.max_prompt_bytes + 1)
        with pytest.raises(InvalidArgument, match="^prompt"):
            await pool.generate("models/hero", big, GREEDY)
        with pytest.raises(InvalidArgument, match="^messages"):
            await pool.chat_prompt("models/hero", [{"role": "user", "content": big}])
    finally:
        await pool.close()
