"""The TGI backend, through the real `text-generation` client, against a local TGI-protocol server."""

from __future__ import annotations

import asyncio

import pytest

from fixtures.tgi import EOS_ID, FakeTgiServer
from services.inference.backend import FINISH_EOS, FINISH_LENGTH, FINISH_STOP_SEQUENCE, Summary, collect
from services.inference.params import GenerationLimits, SamplingParams
from services.inference.pool import READY, LoadSpec, ModelPool, PoolConfig
from services.inference.tgi import TgiBackend, tgi_arguments
from services.kit.errors import FailedPrecondition, InvalidArgument, Unavailable

LIMITS = GenerationLimits(max_new_tokens=4096)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_stream_tokens_and_final_details():
    async with FakeTgiServer() as server:
        backend = TgiBackend(server.url)
        events = [e async for e in backend.generate_stream("hi", SamplingParams.build(LIMITS, max_new_tokens=50))]
        tokens, summary = events[:-1], events[-1]
        assert "".join(t.text for t in tokens) == "echo: hi"
        assert tokens[-1].id == EOS_ID and tokens[-1].text == ""  # special tokens carry no text
        assert isinstance(summary, Summary) and summary.finish_reason == FINISH_EOS
        assert summary.text == "echo: hi" and summary.generated_tokens == len(tokens)
        sent = server.requests[-1]
        assert sent["stream"] is True and sent["inputs"] == "hi" and sent["parameters"]["details"] is True


async def test_length_limit_and_stop_sequence():
    async with FakeTgiServer() as server:
        backend = TgiBackend(server.url)
        short = await collect(backend.generate_stream("abcdef", SamplingParams.build(LIMITS, max_new_tokens=4)))
        assert short.summary.finish_reason == FINISH_LENGTH and short.text == "echo"
        stopped = await collect(backend.generate_stream("abcdef", SamplingParams.build(
            LIMITS, max_new_tokens=50, stop_sequences=["cd"])))
        assert stopped.summary.finish_reason == FINISH_STOP_SEQUENCE
        assert stopped.text == "echo: ab"  # cut before the stop sequence, like the transformers backend
        assert server.requests[-1]["parameters"]["stop"] == ["cd"]


def test_parameter_mapping():
    greedy = tgi_arguments(SamplingParams.build(LIMITS, max_new_tokens=9))
    assert greedy["do_sample"] is False and greedy["temperature"] is None and greedy["top_p"] is None
    assert greedy["seed"] is None and greedy["repetition_penalty"] is None and greedy["max_new_tokens"] == 9
    sampled = tgi_arguments(SamplingParams.build(LIMITS, temperature=0.7, top_p=0.9, top_k=20,
                                                 repetition_penalty=1.2, seed=11))
    assert sampled == {"max_new_tokens": LIMITS.default_max_new_tokens, "do_sample": True, "temperature": 0.7,
                       "top_p": 0.9, "top_k": 20, "repetition_penalty": 1.2, "stop_sequences": [], "seed": 11}


async def test_sampling_parameters_reach_the_server():
    async with FakeTgiServer() as server:
        backend = TgiBackend(server.url)
        await collect(backend.generate_stream("x", SamplingParams.build(LIMITS, temperature=0.5, top_k=3, seed=4)))
        parameters = server.requests[-1]["parameters"]
        assert (parameters["do_sample"], parameters["temperature"], parameters["top_k"], parameters["seed"]) == (
            True, 0.5, 3, 4)


async def test_server_validation_error_is_invalid_argument():
    async with FakeTgiServer() as server:
        backend = TgiBackend(server.url)
        with pytest.raises(InvalidArgument, match="max_new_tokens"):
            await collect(backend.generate_stream("x", SamplingParams.build(LIMITS, max_new_tokens=1000)))
        assert backend.active_requests == 0


async def test_unreachable_server_is_unavailable():
    async with FakeTgiServer() as server:
        url = server.url
    with pytest.raises(Unavailable):
        await collect(TgiBackend(url, timeout_seconds=2).generate_stream("x", SamplingParams.build(LIMITS)))


async def test_closing_the_stream_disconnects_from_tgi():
    async with FakeTgiServer(token_delay_seconds=0.05) as server:
        backend = TgiBackend(server.url)
        stream = backend.generate_stream("a long prompt to echo back", SamplingParams.build(LIMITS))
        await anext(stream)
        assert backend.active_requests == 1 and server.active_streams == 1
        await stream.aclose()
        assert backend.active_requests == 0
        for _ in range(100):
            if server.active_streams == 0:
                break
            await asyncio.sleep(0.02)
        assert server.active_streams == 0 and server.disconnects == 1


async def test_tgi_model_in_the_pool():
    def factory(spec, location, model_id):
        return TgiBackend(location)

    async with FakeTgiServer() as server:
        pool = ModelPool(factory, PoolConfig())
        view = await pool.load(LoadSpec(source=server.url, model_id="remote"), wait=True)
        assert view.state == READY and view.backend == "tgi"
        completion = await pool.generate("models/remote", "ping", SamplingParams.build(LIMITS))
        assert completion.text == "echo: ping"
        with pytest.raises(FailedPrecondition, match="chat template"):
            pool.render_chat("models/remote", [{"role": "user", "content": "hi"}])
        await pool.close()


async def test_chat_with_a_local_tokenizer_renders_the_served_template(hero_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(hero_dir)
    async with FakeTgiServer() as server:
        pool = ModelPool(lambda spec, location, model_id: TgiBackend(location, tokenizer=tokenizer), PoolConfig())
        await pool.load(LoadSpec(source=server.url, model_id="remote"), wait=True)
        messages = [{"role": "user", "content": "hi"}]
        prompt = pool.render_chat("models/remote", messages)
        assert prompt == tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        completion = await pool.generate("models/remote", prompt, SamplingParams.build(LIMITS, max_new_tokens=100),
                                         chat_template_applied=True)
        assert server.requests[-1]["inputs"] == prompt and completion.text == "echo: " + prompt
        await pool.close()
