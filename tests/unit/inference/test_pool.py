"""The model pool: loading, swapping, failures, LRU and memory budget, adapters, vault sources."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from realm.vault.v1 import vault_pb2
from services.inference.app import build_pool
from services.inference.config import InferenceConfig
from services.inference.params import GenerationLimits, SamplingParams
from services.inference.pool import (
    FAILED,
    LOADING,
    READY,
    LoadSpec,
    PoolConfig,
    checkpoint_bytes,
    mint_model_id,
)
from services.inference.transformers_backend import LoadOptions, check_load_options
from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted

from .conftest import PROMPTS

LIMITS = GenerationLimits()
GREEDY = SamplingParams.build(LIMITS, max_new_tokens=12)


class FakeVault:
    """Stands in for the vault SDK client: resolves one alias and 'pulls' by copying a directory."""

    messages = vault_pb2

    def __init__(self, checkpoint: Path, asset: str = "assets/ckpt-1", fail: bool = False) -> None:
        self.checkpoint, self.asset, self.fail = checkpoint, asset, fail
        self.pulls: list[tuple[str, Path]] = []

    def ResolveAlias(self, request):
        if not request.name.endswith("/latest"):
            raise LookupError(f"no alias {request.name}")
        return SimpleNamespace(alias=SimpleNamespace(asset=self.asset), asset=SimpleNamespace(name=self.asset))

    def pull(self, asset: str, dest: Path) -> None:
        self.pulls.append((asset, Path(dest)))
        if self.fail:
            raise OSError("sha256 mismatch for model.safetensors")
        shutil.copytree(self.checkpoint, dest)


def make_pool(tmp_path: Path, vault=None, **pool_kwargs):
    config = InferenceConfig(pool=PoolConfig(**pool_kwargs), cache_dir=tmp_path / "cache")
    return build_pool(config, vault)


@pytest.fixture
async def pool(tmp_path):
    created = make_pool(tmp_path, max_models=2)
    yield created
    await created.close()


def corrupt_copy(hero_dir: Path, dest: Path) -> Path:
    shutil.copytree(hero_dir, dest)
    weights = dest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
    return dest


async def test_load_local_directory_and_describe(pool, hero_dir):
    view = await pool.load(LoadSpec(source=str(hero_dir), model_id="hero"), wait=True)
    assert view.name == "models/hero" and view.state == READY
    assert (view.device, view.dtype, view.backend) == ("cpu", "float32", "transformers")
    assert view.memory_bytes > 0 and view.parameter_count > 0 and view.has_chat_template and not view.is_adapter
    assert [m.name for m in pool.list()] == ["models/hero"]
    completion = await pool.generate("models/hero", PROMPTS[0], GREEDY)
    assert completion.summary.generated_tokens == 12
    assert pool.get("models/hero").last_used_time >= view.load_time


async def test_load_without_wait_then_watch(pool, hero_dir):
    view = await pool.load(LoadSpec(source=str(hero_dir)), wait=False)
    assert view.state == LOADING and view.name == "models/tiny-hero"
    states = [v.state async for v in pool.watch(view.name)]
    assert states[-1] == READY


async def test_corrupt_checkpoint_fails_and_old_model_keeps_answering(pool, hero_dir, tmp_path):
    await pool.load(LoadSpec(source=str(hero_dir), model_id="hero"), wait=True)
    before = await pool.generate("models/hero", PROMPTS[1], GREEDY)
    corrupt = corrupt_copy(hero_dir, tmp_path / "corrupt")
    with pytest.raises(FailedPrecondition, match="cannot load checkpoint"):
        await pool.load(LoadSpec(source=str(corrupt), model_id="hero"), wait=True)
    view = pool.get("models/hero")
    assert view.state == READY and view.source == str(hero_dir)
    assert "still serving" in view.error
    after = await pool.generate("models/hero", PROMPTS[1], GREEDY)
    assert [t.id for t in after.tokens] == [t.id for t in before.tokens]
    # the same corrupt checkpoint under a new id: FAILED, with the reason, and it cannot serve
    with pytest.raises(FailedPrecondition):
        await pool.load(LoadSpec(source=str(corrupt), model_id="broken"), wait=True)
    broken = pool.get("models/broken")
    assert broken.state == FAILED and "cannot load checkpoint" in broken.error
    with pytest.raises(FailedPrecondition, match="FAILED"):
        await pool.generate("models/broken", PROMPTS[0], GREEDY)


async def test_swap_to_a_new_checkpoint_under_the_same_id(pool, hero_dir, tmp_path):
    await pool.load(LoadSpec(source=str(hero_dir), model_id="hero"), wait=True)
    second = tmp_path / "second"
    shutil.copytree(hero_dir, second)
    view = await pool.load(LoadSpec(source=str(second), model_id="hero"), wait=True)
    assert view.state == READY and view.source == str(second) and view.error == ""
    assert (await pool.generate("models/hero", PROMPTS[0], GREEDY)).summary.generated_tokens == 12


async def test_missing_source_and_bad_names(pool, tmp_path):
    with pytest.raises(NotFound, match="source"):
        await pool.load(LoadSpec(source=str(tmp_path / "nope"), model_id="x"), wait=True)
    with pytest.raises(InvalidArgument, match="model_id"):
        await pool.load(LoadSpec(source=str(tmp_path), model_id="Bad Name!"))
    with pytest.raises(InvalidArgument, match="source"):
        await pool.load(LoadSpec(source=" "))
    with pytest.raises(NotFound):
        pool.get("models/absent")


async def test_lru_eviction_by_count(tmp_path, hero_dir):
    pool = make_pool(tmp_path, max_models=1)
    try:
        await pool.load(LoadSpec(source=str(hero_dir), model_id="a"), wait=True)
        await pool.load(LoadSpec(source=str(hero_dir), model_id="b"), wait=True)
        assert [m.name for m in pool.list()] == ["models/b"]
    finally:
        await pool.close()


async def test_busy_models_are_not_evicted(tmp_path, hero_dir):
    pool = make_pool(tmp_path, max_models=1)
    try:
        await pool.load(LoadSpec(source=str(hero_dir), model_id="a"), wait=True)
        stream = pool.generate_stream("models/a", PROMPTS[0], SamplingParams.build(LIMITS, max_new_tokens=2000))
        await anext(stream)
        with pytest.raises(ResourceExhausted, match="busy"):
            await pool.load(LoadSpec(source=str(hero_dir), model_id="b"), wait=True)
        assert pool.get("models/a").state == READY and pool.get("models/b").state == FAILED
        await stream.aclose()
    finally:
        await pool.close()


async def test_memory_budget(tmp_path, hero_dir):
    size = checkpoint_bytes(hero_dir)
    tight = make_pool(tmp_path, max_models=4, memory_budget_bytes=size // 2)
    roomy = make_pool(tmp_path, max_models=4, memory_budget_bytes=int(size * 1.5))
    try:
        with pytest.raises(ResourceExhausted, match="memory budget"):
            await tight.load(LoadSpec(source=str(hero_dir), model_id="a"), wait=True)
        await roomy.load(LoadSpec(source=str(hero_dir), model_id="a"), wait=True)
        await roomy.load(LoadSpec(source=str(hero_dir), model_id="b"), wait=True)  # evicts a to fit
        assert [m.name for m in roomy.list()] == ["models/b"]
    finally:
        await tight.close()
        await roomy.close()


async def test_unload(pool, hero_dir):
    await pool.load(LoadSpec(source=str(hero_dir), model_id="hero"), wait=True)
    await pool.unload("models/hero")
    assert pool.list() == []
    with pytest.raises(NotFound):
        await pool.generate("models/hero", PROMPTS[0], GREEDY)


def test_quantization_needs_cuda():
    with pytest.raises(FailedPrecondition) as caught:
        check_load_options(LoadOptions(quantization="4bit"), has_cuda=False)
    assert caught.value.field == "quantization"
    check_load_options(LoadOptions(quantization="4bit", device="cuda"), has_cuda=True)
    check_load_options(LoadOptions(quantization="8bit", device="cuda"), has_cuda=True)
    with pytest.raises(InvalidArgument, match="quantization"):
        check_load_options(LoadOptions(quantization="3bit"), has_cuda=True)
    with pytest.raises(InvalidArgument, match="dtype"):
        check_load_options(LoadOptions(dtype="int8"), has_cuda=False)
    with pytest.raises(FailedPrecondition, match="device"):
        check_load_options(LoadOptions(device="cuda:0"), has_cuda=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
async def test_quantized_load_refused_on_cpu(pool, hero_dir):
    with pytest.raises(FailedPrecondition, match="needs CUDA"):
        await pool.load(LoadSpec(source=str(hero_dir), model_id="q", quantization="8bit"), wait=True)


async def test_peft_adapter_is_detected_and_applied(pool, hero_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(hero_dir)
    torch.manual_seed(1)
    lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"],
                                           init_lora_weights=False))
    adapter_dir = tmp_path / "adapter"
    lora.save_pretrained(adapter_dir)
    merged = lora.merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(hero_dir)
    inputs = tokenizer(PROMPTS[1], return_tensors="pt")
    expected = merged.generate(**inputs, max_new_tokens=12, do_sample=False)[0, inputs.input_ids.shape[1]:].tolist()
    plain = AutoModelForCausalLM.from_pretrained(hero_dir).generate(**inputs, max_new_tokens=12, do_sample=False)
    assert plain[0, inputs.input_ids.shape[1]:].tolist() != expected  # the adapter changes the output

    view = await pool.load(LoadSpec(source=str(adapter_dir), model_id="lora"), wait=True)
    assert view.is_adapter and view.state == READY
    completion = await pool.generate("models/lora", PROMPTS[1], GREEDY)
    assert [t.id for t in completion.tokens] == expected


async def test_chat_uses_the_checkpoint_template(pool, hero_dir):
    from transformers import AutoTokenizer

    await pool.load(LoadSpec(source=str(hero_dir), model_id="hero"), wait=True)
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "1 + 1 ="}]
    rendered = pool.render_chat("models/hero", messages)
    expected = AutoTokenizer.from_pretrained(hero_dir).apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True)
    assert rendered == expected and rendered.endswith("<|im_start|>assistant\n")
    with pytest.raises(InvalidArgument, match=r"messages\[0\].role"):
        pool.render_chat("models/hero", [{"role": "wizard", "content": "hi"}])


async def test_vault_alias_is_pulled_once_into_the_cache(tmp_path, hero_dir):
    vault = FakeVault(hero_dir)
    pool = make_pool(tmp_path, vault=vault, max_models=2)
    try:
        view = await pool.load(LoadSpec(source="campaigns/c1/aliases/latest"), wait=True)
        assert view.name == "models/c1-latest" and view.asset == "assets/ckpt-1" and view.state == READY
        again = await pool.load(LoadSpec(source="assets/ckpt-1", model_id="same"), wait=True)
        assert again.asset == "assets/ckpt-1"
        assert len(vault.pulls) == 1
        assert (tmp_path / "cache" / "assets-ckpt-1" / "config.json").is_file()
    finally:
        await pool.close()


async def test_failed_vault_pull_leaves_no_cache_entry(tmp_path, hero_dir):
    pool = make_pool(tmp_path, vault=FakeVault(hero_dir, fail=True), max_models=2)
    try:
        with pytest.raises(FailedPrecondition, match="sha256 mismatch"):
            await pool.load(LoadSpec(source="campaigns/c1/aliases/latest"), wait=True)
        assert [p.name for p in (tmp_path / "cache").iterdir()] == []
        with pytest.raises(FailedPrecondition, match="no vault"):
            await make_pool(tmp_path / "other").load(LoadSpec(source="assets/x", model_id="x"), wait=True)
    finally:
        await pool.close()


def test_model_ids_minted_from_sources():
    assert mint_model_id("campaigns/c1/aliases/best/bin") == "c1-best-bin"
    assert mint_model_id("assets/0f3a") == "0f3a"
    assert mint_model_id("/srv/ckpts/Step-40/") == "step-40"
    assert mint_model_id("http://tgi:8080") == "tgi-tgi-8080"


async def test_concurrent_load_of_same_id_is_refused(pool, hero_dir):
    first = await pool.load(LoadSpec(source=str(hero_dir), model_id="hero"))
    assert first.state == LOADING
    from services.kit.errors import Aborted

    with pytest.raises(Aborted):
        await pool.load(LoadSpec(source=str(hero_dir), model_id="hero"))
    await asyncio.wait_for(_until_ready(pool, "models/hero"), 30)


async def _until_ready(pool, name):
    async for view in pool.watch(name):
        if view.state == READY:
            return


async def test_dtype_from_request(pool, hero_dir):
    view = await pool.load(LoadSpec(source=str(hero_dir), model_id="half", dtype="bfloat16"), wait=True)
    assert view.dtype == "bfloat16" and view.state == READY
    assert (await pool.generate("models/half", PROMPTS[0], GREEDY)).summary.generated_tokens == 12
    with pytest.raises(InvalidArgument, match="dtype"):
        await pool.load(LoadSpec(source=str(hero_dir), model_id="bad", dtype="int3"), wait=True)


async def test_generation_metrics_are_recorded(pool, hero_dir):
    from prometheus_client import REGISTRY

    def sample(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    await pool.load(LoadSpec(source=str(hero_dir), model_id="metered"), wait=True)
    before = sample("realm_inference_tokens_generated_total", model="metered")
    requests_before = sample("realm_inference_requests_total", model="metered", kind="generate", outcome="length")
    await asyncio.gather(*(pool.generate("models/metered", p, GREEDY) for p in PROMPTS[:3]))
    assert sample("realm_inference_tokens_generated_total", model="metered") == before + 36
    assert sample("realm_inference_requests_total", model="metered", kind="generate",
                  outcome="length") == requests_before + 3
    assert sample("realm_inference_time_to_first_token_seconds_count", model="metered") >= 3
    assert sample("realm_inference_batch_size_count", model="metered") > 0
    assert sample("realm_inference_queue_seconds_count", model="metered") >= 3
    assert sample("realm_inference_time_per_output_token_seconds_count", model="metered") >= 3


async def test_unload_ends_requests_in_flight(pool, hero_dir):
    await pool.load(LoadSpec(source=str(hero_dir), model_id="hero"), wait=True)
    stream = pool.generate_stream("models/hero", PROMPTS[0], SamplingParams.build(LIMITS, max_new_tokens=2000))
    await anext(stream)
    await pool.unload("models/hero")
    rest = [event async for event in stream]
    assert rest[-1].finish_reason == "cancelled"
