"""What OpenAI/TGI-style callers need from the engine: top-k alternatives with logprobs, reproducible seeds
(also for requests that set none), the matched stop sequence, and size caps before any tokenising."""

from __future__ import annotations

import asyncio

import pytest
import torch

from services.inference.backend import FINISH_STOP_SEQUENCE, collect
from services.inference.params import GenerationLimits, SamplingParams, check_messages, check_prompt
from services.kit.errors import InvalidArgument

from .conftest import PROMPTS

LIMITS = GenerationLimits()


def reference_logprobs(backend, prompt: str, generated: list[int]) -> torch.Tensor:
    """Log-softmax at each generated position, from one plain forward pass over prompt + generated."""
    prompt_ids = backend.tokenizer(prompt).input_ids
    with torch.inference_mode():
        logits = backend.model(input_ids=torch.tensor([prompt_ids + generated])).logits[0].float()
    return torch.log_softmax(logits[len(prompt_ids) - 1:-1], dim=-1)


async def test_top_logprobs_are_the_models_best_alternatives(backend):
    params = SamplingParams.build(LIMITS, max_new_tokens=6, top_logprobs=5)
    completion = await collect(backend.generate_stream(PROMPTS[1], params))
    expected = reference_logprobs(backend, PROMPTS[1], [t.id for t in completion.tokens])
    for position, token in enumerate(completion.tokens):
        assert len(token.top) == 5
        best = torch.topk(expected[position], 5)
        assert [a.id for a in token.top] == best.indices.tolist()
        assert [a.logprob for a in token.top] == pytest.approx(best.values.tolist(), abs=1e-4)
        assert token.top[0].id == token.id and token.top[0].logprob == pytest.approx(token.logprob)
        assert token.top[0].text == backend.tokenizer.decode([token.id])
    plain = await collect(backend.generate_stream(PROMPTS[1], SamplingParams.build(LIMITS, max_new_tokens=6)))
    assert all(token.top == () for token in plain.tokens)
    assert [t.id for t in plain.tokens] == [t.id for t in completion.tokens]


async def test_top_logprobs_only_for_the_rows_that_ask_in_a_shared_batch(backend):
    asking = SamplingParams.build(LIMITS, max_new_tokens=8, top_logprobs=20)
    silent = SamplingParams.build(LIMITS, max_new_tokens=8)
    with_top, without = await asyncio.gather(collect(backend.generate_stream(PROMPTS[0], asking)),
                                             collect(backend.generate_stream(PROMPTS[2], silent)))
    assert all(len(t.top) == 20 for t in with_top.tokens) and all(t.top == () for t in without.tokens)


async def test_unseeded_sampling_reports_a_seed_that_reproduces_it(backend):
    drawn = await collect(backend.generate_stream(PROMPTS[0], SamplingParams.build(
        LIMITS, max_new_tokens=20, temperature=1.0)))
    assert drawn.summary.seed is not None
    replay = await collect(backend.generate_stream(PROMPTS[0], SamplingParams.build(
        LIMITS, max_new_tokens=20, temperature=1.0, seed=drawn.summary.seed)))
    assert [t.id for t in replay.tokens] == [t.id for t in drawn.tokens]
    assert replay.summary.seed == drawn.summary.seed
    greedy = await collect(backend.generate_stream(PROMPTS[0], SamplingParams.build(LIMITS, max_new_tokens=2)))
    assert greedy.summary.seed is None


async def test_summary_names_the_stop_sequence_that_matched(backend):
    sampled = SamplingParams.build(LIMITS, max_new_tokens=60, temperature=1.0, seed=3)
    full = await collect(backend.generate_stream(PROMPTS[0], sampled))
    stop = next(full.text[i:i + 2] for i in range(len(full.text) // 2, len(full.text) - 1)
                if "\ufffd" not in full.text[i:i + 2] and full.text[i:i + 2].strip())
    stopped = await collect(backend.generate_stream(PROMPTS[0], SamplingParams.build(
        LIMITS, max_new_tokens=60, temperature=1.0, seed=3, stop_sequences=["zzzq", stop])))
    assert stopped.summary.finish_reason == FINISH_STOP_SEQUENCE and stopped.summary.stop_sequence == stop
    assert full.summary.stop_sequence == ""


def test_top_logprobs_range_is_validated():
    assert SamplingParams.build(LIMITS, top_logprobs=20).top_logprobs == 20
    for bad in (-1, 21):
        with pytest.raises(InvalidArgument, match=r"^parameters\.top_logprobs"):
            SamplingParams.build(LIMITS, top_logprobs=bad)


def test_prompt_and_chat_byte_caps():
    small = GenerationLimits(max_prompt_bytes=10, max_chat_messages=3)
    check_prompt("x" * 10, small)
    with pytest.raises(InvalidArgument, match="^prompt: 11 bytes"):
        check_prompt("x" * 11, small)
    with pytest.raises(InvalidArgument, match="^prompt: 12 bytes"):  # bytes, not characters
        check_prompt("é" * 6, small)
    check_messages([{"role": "user", "content": "x" * 5}, {"role": "assistant", "content": "y" * 5}], small)
    with pytest.raises(InvalidArgument, match="^messages: message contents together are 11 bytes"):
        check_messages([{"role": "user", "content": "x" * 6}, {"role": "assistant", "content": "y" * 5}], small)
    with pytest.raises(InvalidArgument, match="^messages: at most 3"):
        check_messages([{"role": "user", "content": ""}] * 4, small)
    with pytest.raises(InvalidArgument, match="^messages: must not be empty"):
        check_messages([], small)


async def test_tokenize_gives_ids_and_spans(backend):
    pieces = backend.tokenize(PROMPTS[1])
    assert [p.id for p in pieces] == backend.tokenizer(PROMPTS[1]).input_ids
    assert "".join(p.text for p in pieces) == PROMPTS[1]
    assert all(PROMPTS[1][p.start:p.stop] == p.text for p in pieces)


async def test_coalesced_token_delivery_loses_nothing(hero_dir):
    """Token events reach the loop at most every stream_interval; summaries go at once, so even with an
    interval far longer than the request every token and the summary arrive, in order."""
    from services.inference.engine import EngineConfig
    from services.inference.transformers_backend import LoadOptions, TransformersBackend

    slow = TransformersBackend.load(hero_dir, LoadOptions(), limits=LIMITS,
                                    engine_config=EngineConfig(stream_interval_seconds=3600.0), model_label="slow")
    every_step = TransformersBackend.load(hero_dir, LoadOptions(), limits=LIMITS,
                                          engine_config=EngineConfig(stream_interval_seconds=0.0), model_label="fast")
    try:
        params = SamplingParams.build(LIMITS, max_new_tokens=16)
        coalesced, stepwise = await asyncio.gather(*(collect(b.generate_stream(PROMPTS[0], params))
                                                     for b in (slow, every_step)))
        assert [t.id for t in coalesced.tokens] == [t.id for t in stepwise.tokens]
        assert len(coalesced.tokens) == coalesced.summary.generated_tokens == 16
    finally:
        await slow.close()
        await every_step.close()
