"""The continuous-batching engine against plain transformers `generate` on the tiny hero (fp32, CPU)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import torch

from services.inference.backend import FINISH_EOS, FINISH_LENGTH, FINISH_STOP_SEQUENCE, Summary, collect
from services.inference.engine import BatchEngine, EngineConfig, GenerationFailed
from services.inference.params import GenerationLimits, SamplingParams
from services.kit.errors import InvalidArgument, ResourceExhausted

from .conftest import PROMPTS

LIMITS = GenerationLimits()


def reference(backend, prompt: str, max_new_tokens: int, **kwargs) -> list[int]:
    inputs = backend.tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        output = backend.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, **kwargs)
    return output[0, inputs.input_ids.shape[1]:].tolist()


def ids(completion) -> list[int]:
    return [token.id for token in completion.tokens]


async def test_greedy_matches_generate_unbatched(backend):
    params = SamplingParams.build(LIMITS, max_new_tokens=24)
    for prompt in PROMPTS:
        completion = await collect(backend.generate_stream(prompt, params))
        assert ids(completion) == reference(backend, prompt, 24), prompt
        assert completion.summary.finish_reason in (FINISH_LENGTH, FINISH_EOS)
        assert completion.summary.prompt_tokens == len(backend.tokenizer(prompt).input_ids)


async def test_greedy_matches_generate_batched_with_joins_and_leaves(backend):
    # Different lengths, staggered arrivals: requests join a running batch and leave it at different steps.
    lengths = [24, 9, 17, 30, 5]
    params = [SamplingParams.build(LIMITS, max_new_tokens=n) for n in lengths]

    async def delayed(index: int):
        await asyncio.sleep(0.01 * index)
        return await collect(backend.generate_stream(PROMPTS[index], params[index]))

    completions = await asyncio.gather(*(delayed(i) for i in range(len(PROMPTS))))
    for index, completion in enumerate(completions):
        assert ids(completion) == reference(backend, PROMPTS[index], lengths[index]), PROMPTS[index]


async def test_greedy_matches_batched_generate(backend):
    """Against transformers' own batched (left-padded) generate of the same prompts."""
    tokenizer = backend.tokenizer
    tokenizer.padding_side = "left"
    inputs = tokenizer(PROMPTS, return_tensors="pt", padding=True)
    with torch.inference_mode():
        output = backend.model.generate(**inputs, max_new_tokens=20, do_sample=False)
    expected = [row[inputs.input_ids.shape[1]:].tolist() for row in output]
    params = SamplingParams.build(LIMITS, max_new_tokens=20)
    completions = await asyncio.gather(*(collect(backend.generate_stream(p, params)) for p in PROMPTS))
    assert [ids(c) for c in completions] == expected


async def test_repetition_penalty_matches_generate(backend):
    params = SamplingParams.build(LIMITS, max_new_tokens=20, repetition_penalty=20.0)
    completions = await asyncio.gather(*(collect(backend.generate_stream(p, params)) for p in PROMPTS[:3]))
    for prompt, completion in zip(PROMPTS[:3], completions, strict=True):
        assert ids(completion) == reference(backend, prompt, 20, repetition_penalty=20.0)
    # and the penalty actually changed something
    plain = await collect(backend.generate_stream(PROMPTS[0], SamplingParams.build(LIMITS, max_new_tokens=20)))
    assert ids(plain) != ids(completions[0])


async def test_seeded_sampling_is_reproducible_whatever_the_batch(backend):
    seeded = SamplingParams.build(LIMITS, max_new_tokens=20, temperature=1.5, top_k=200, top_p=0.95, seed=7)
    alone = await collect(backend.generate_stream(PROMPTS[1], seeded))
    others = [SamplingParams.build(LIMITS, max_new_tokens=12 + i, temperature=1.0, seed=100 + i) for i in range(4)]
    together = await asyncio.gather(
        collect(backend.generate_stream(PROMPTS[0], others[0])),
        collect(backend.generate_stream(PROMPTS[2], others[1])),
        collect(backend.generate_stream(PROMPTS[1], seeded)),
        collect(backend.generate_stream(PROMPTS[3], others[2])),
    )
    assert ids(together[2]) == ids(alone)
    other_seed = SamplingParams.build(LIMITS, max_new_tokens=20, temperature=1.5, top_k=200, top_p=0.95, seed=8)
    assert ids(await collect(backend.generate_stream(PROMPTS[1], other_seed))) != ids(alone)


async def test_stop_sequence_cuts_text_and_finishes(backend):
    # A random-init model mostly repeats one token, so sample (seeded, hence repeatable) to get varied text.
    sampled = SamplingParams.build(LIMITS, max_new_tokens=60, temperature=1.0, seed=3)
    full = await collect(backend.generate_stream(PROMPTS[0], sampled))
    middle = len(full.text) // 2
    stop = next(full.text[i:i + 2] for i in range(middle, len(full.text) - 1)
                if "\ufffd" not in full.text[i:i + 2] and full.text[i:i + 2].strip())
    expected = full.text[:full.text.find(stop)]
    params = SamplingParams.build(LIMITS, max_new_tokens=60, temperature=1.0, seed=3, stop_sequences=["zzzq", stop])
    stopped = await collect(backend.generate_stream(PROMPTS[0], params))
    assert stopped.summary.finish_reason == FINISH_STOP_SEQUENCE
    assert stopped.text == expected
    assert stopped.summary.generated_tokens < full.summary.generated_tokens


async def wait_for_running(engine, count: int, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.005)):
        if engine.running_count == count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"running_count stayed {engine.running_count}, expected {count}")


async def test_cancelling_a_stream_frees_its_slot_within_a_step(backend):
    engine = backend.engine
    survivor_task = asyncio.create_task(collect(backend.generate_stream(PROMPTS[0], SamplingParams.build(
        LIMITS, max_new_tokens=400))))
    stream = backend.generate_stream(PROMPTS[1], SamplingParams.build(LIMITS, max_new_tokens=2000))
    first = await anext(stream)
    assert not isinstance(first, Summary)
    await wait_for_running(engine, 2)
    await stream.aclose()  # what the servicer does when the client disconnects
    await wait_for_running(engine, 1)
    assert not survivor_task.done()
    survivor = await survivor_task
    await wait_for_running(engine, 0)
    assert ids(survivor) == reference(backend, PROMPTS[0], 400)  # the other row was not disturbed


async def test_cancelled_task_frees_slot(backend):
    engine = backend.engine
    started = asyncio.Event()

    async def consume():
        async with contextlib.aclosing(backend.generate_stream(PROMPTS[2], SamplingParams.build(
                LIMITS, max_new_tokens=2000))) as stream:
            async for _ in stream:
                started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    assert engine.running_count == 1
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await wait_for_running(engine, 0)


async def test_bounded_queue_and_batch_size(backend, hero_dir):
    engine = BatchEngine(backend.model, backend.tokenizer, eos_token_ids=set(),
                         config=EngineConfig(max_batch_size=1, max_queue=1), max_positions=4096)
    try:
        prompt_ids = backend.tokenizer(PROMPTS[0]).input_ids
        running = engine.submit(prompt_ids, SamplingParams.build(LIMITS, max_new_tokens=2000))
        events = running.events()
        await anext(events)  # admitted: the only batch slot is taken
        waiting = engine.submit(prompt_ids, SamplingParams.build(LIMITS, max_new_tokens=3))
        assert engine.running_count == 1 and engine.waiting_count == 1
        with pytest.raises(ResourceExhausted):
            engine.submit(prompt_ids, SamplingParams.build(LIMITS, max_new_tokens=3))
        running.cancel()
        await events.aclose()
        finished = [event async for event in waiting.events()]
        assert isinstance(finished[-1], Summary) and finished[-1].generated_tokens == 3
        assert finished[-1].queue_seconds > 0
    finally:
        engine.close()


async def test_eos_ends_generation(backend):
    first_token = reference(backend, PROMPTS[0], 1)[0]
    engine = BatchEngine(backend.model, backend.tokenizer, eos_token_ids={first_token},
                         config=EngineConfig(), max_positions=4096)
    try:
        handle = engine.submit(backend.tokenizer(PROMPTS[0]).input_ids, SamplingParams.build(LIMITS))
        events = [event async for event in handle.events()]
        assert events[-1].finish_reason == FINISH_EOS
        assert events[-1].generated_tokens == 1 and events[0].id == first_token
    finally:
        engine.close()


async def test_length_and_summary_fields(backend):
    completion = await collect(backend.generate_stream(PROMPTS[0], SamplingParams.build(LIMITS, max_new_tokens=7)))
    summary = completion.summary
    assert summary.finish_reason == FINISH_LENGTH and summary.generated_tokens == 7 == len(completion.tokens)
    assert summary.time_to_first_token_seconds > 0 and summary.tokens_per_second > 0
    assert summary.total_seconds >= summary.time_to_first_token_seconds
    assert all(token.logprob <= 0 for token in completion.tokens)


async def test_prompt_limits(backend, hero_dir):
    with pytest.raises(InvalidArgument, match="prompt"):
        await collect(backend.generate_stream("", SamplingParams.build(LIMITS)))
    small = GenerationLimits(max_prompt_tokens=4)
    backend._limits = small
    with pytest.raises(InvalidArgument, match="prompt: .* more than the limit of 4"):
        await collect(backend.generate_stream(PROMPTS[3], SamplingParams.build(LIMITS)))


async def test_a_failing_step_fails_its_requests_and_the_engine_keeps_serving(backend):
    engine = BatchEngine(backend.model, backend.tokenizer, eos_token_ids=set(), config=EngineConfig(),
                         max_positions=4096)
    real_decode = engine._decode_step
    calls = {"n": 0}

    def flaky_decode():
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated out of memory")
        real_decode()

    engine._decode_step = flaky_decode
    try:
        prompt_ids = backend.tokenizer(PROMPTS[0]).input_ids
        handle = engine.submit(prompt_ids, SamplingParams.build(LIMITS, max_new_tokens=50))
        with pytest.raises(GenerationFailed, match="simulated out of memory"):
            [event async for event in handle.events()]
        await wait_for_running(engine, 0)
        after = engine.submit(prompt_ids, SamplingParams.build(LIMITS, max_new_tokens=5))
        events = [event async for event in after.events()]
        assert events[-1].generated_tokens == 5
        assert [e.id for e in events[:-1]] == reference(backend, PROMPTS[0], 5)
    finally:
        engine.close()


async def test_context_window_caps_output_and_rejects_overlong_prompts(backend):
    prompt_ids = backend.tokenizer(PROMPTS[0]).input_ids
    engine = BatchEngine(backend.model, backend.tokenizer, eos_token_ids=set(), config=EngineConfig(),
                         max_positions=len(prompt_ids) + 3)
    try:
        handle = engine.submit(prompt_ids, SamplingParams.build(LIMITS, max_new_tokens=50))
        events = [event async for event in handle.events()]
        assert events[-1].finish_reason == FINISH_LENGTH and events[-1].generated_tokens == 3
        with pytest.raises(InvalidArgument, match="prompt: .* context of"):
            engine.submit(prompt_ids + prompt_ids, SamplingParams.build(LIMITS))
    finally:
        engine.close()
