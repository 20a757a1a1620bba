"""The official `openai` client against the gateway's /v1 over a real inference service with the tiny hero."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from fixtures.kit import READ_TOKEN

pytestmark = pytest.mark.integration
USER = [{"role": "user", "content": "add(①⓪, ①①)"}]


@pytest.fixture(scope="module")
def client(served):
    return openai.OpenAI(base_url=f"{served.gateway.url}/v1", api_key=READ_TOKEN, max_retries=0)


def test_models_list_is_openai_shaped(client):
    models = client.models.list()
    default = next(m for m in models.data if m.id == "default")
    assert default.object == "model" and default.owned_by == "realm" and default.created > 0
    assert default.model_extra["state"] == "MODEL_STATE_READY"
    assert "checkpoint" in default.model_extra and "parent" in default.model_extra
    assert client.models.retrieve("default").id == "default"


def test_chat_n_choices_and_usage(client):
    reply = client.chat.completions.create(model="default", messages=USER, n=2, max_tokens=5, temperature=1.0,
                                           seed=3)
    assert [c.index for c in reply.choices] == [0, 1]
    assert reply.usage.completion_tokens <= 10
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_chat_logprobs_in_openai_shape(client):
    reply = client.chat.completions.create(model="default", messages=USER, max_tokens=4, logprobs=True,
                                           top_logprobs=3)
    content = reply.choices[0].logprobs.content
    assert len(content) == reply.usage.completion_tokens > 0
    for item in content:
        assert item.logprob <= 0 and len(item.top_logprobs) == 3
        assert item.top_logprobs[0].logprob >= item.top_logprobs[-1].logprob
        assert item.bytes == list(item.token.encode())
    plain = client.chat.completions.create(model="default", messages=USER, max_tokens=4)
    assert plain.choices[0].logprobs is None


def test_max_completion_tokens_and_max_tokens_cap_generation(client):
    capped = client.chat.completions.create(model="default", messages=USER, max_completion_tokens=4)
    assert capped.usage.completion_tokens <= 4
    both = client.chat.completions.create(model="default", messages=USER, max_completion_tokens=2, max_tokens=9)
    assert both.usage.completion_tokens <= 2
    legacy = client.chat.completions.create(model="default", messages=USER, max_tokens=3)
    assert legacy.usage.completion_tokens <= 3


def test_stream_include_usage_finish_chunk_and_same_text(client):
    unary = client.chat.completions.create(model="default", messages=USER, max_tokens=8)
    chunks = list(client.chat.completions.create(model="default", messages=USER, max_tokens=8, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage.completion_tokens == unary.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])
    finish = chunks[-2].choices[0]
    assert finish.finish_reason == unary.choices[0].finish_reason
    assert finish.delta.content is None and finish.delta.role is None
    assert all(c.choices[0].finish_reason is None for c in chunks[:-2])
    text = "".join(c.choices[0].delta.content or "" for c in chunks[:-1])
    assert text == unary.choices[0].message.content
    without = list(client.chat.completions.create(model="default", messages=USER, max_tokens=8, stream=True))
    assert all(c.usage is None for c in without) and without[-1].choices[0].finish_reason is not None


def test_stop_strings_and_sequences_cut_the_text(client):
    full = client.chat.completions.create(model="default", messages=USER, max_tokens=24).choices[0].message.content
    cut_at = next(i for i in range(1, len(full) - 1) if full.find(full[i:i + 2]) == i)
    stop = full[cut_at:cut_at + 2]
    for stops in (stop, [stop, "never-seen-stop"]):
        reply = client.chat.completions.create(model="default", messages=USER, max_tokens=24, stop=stops)
        assert reply.choices[0].message.content == full[:cut_at]
        assert reply.choices[0].finish_reason == "stop"
        streamed = client.chat.completions.create(model="default", messages=USER, max_tokens=24, stop=stops,
                                                  stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == full[:cut_at]


def test_seed_makes_sampling_reproducible(client):
    def sample():
        return client.chat.completions.create(model="default", messages=USER, max_tokens=8, temperature=1.0,
                                              top_p=0.9, seed=1234).choices[0].message.content
    assert sample() == sample()


def test_legacy_completions(client):
    reply = client.completions.create(model="default", prompt="add(①⓪, ①①) =", max_tokens=4, n=2, logprobs=2,
                                      echo=True)
    assert [c.index for c in reply.choices] == [0, 1]
    assert all(c.text.startswith("add(①⓪, ①①) =") for c in reply.choices)
    assert len(reply.choices[0].logprobs.tokens) == len(reply.choices[0].logprobs.top_logprobs) > 0
    chunks = list(client.completions.create(model="default", prompt="add(①⓪, ①①) =", max_tokens=4, stream=True,
                                            stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    plain = client.completions.create(model="default", prompt="add(①⓪, ①①) =", max_tokens=4)
    assert "".join(c.choices[0].text for c in chunks[:-1]) == plain.choices[0].text


def test_errors_are_openai_shaped_with_the_right_status(client, served):
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="default", messages=USER, temperature=5)
    assert bad.value.status_code == 400 and bad.value.body["param"] == "temperature"
    assert bad.value.response.headers["x-should-retry"] == "false"
    with pytest.raises(openai.BadRequestError) as lots:
        client.chat.completions.create(model="default", messages=USER, max_tokens="lots")
    assert lots.value.body["param"] == "max_tokens" and lots.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-model", messages=USER, max_tokens=2)
    assert missing.value.response.headers["x-should-retry"] == "false"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{served.gateway.url}/v1", api_key="wrong-token", max_retries=0).models.list()
    raw = httpx.post(f"{served.gateway.url}/v1/chat/completions", content=b"5",
                     headers={"Authorization": f"Bearer {READ_TOKEN}", "Content-Type": "application/json"})
    assert raw.status_code == 400 and set(raw.json()["error"]) == {"message", "type", "param", "code"}


def test_unknown_fields_are_accepted_with_a_warning(served):
    body = {"model": "default", "messages": USER, "max_tokens": 2, "presence_penalty": 0.5, "weird_extension": 1}
    raw = httpx.post(f"{served.gateway.url}/v1/chat/completions", json=body,
                     headers={"Authorization": f"Bearer {READ_TOKEN}"})
    assert raw.status_code == 200
    assert raw.headers["x-realm-ignored-fields"] == "presence_penalty,weird_extension"


def test_stream_frames_are_data_lines_ending_with_done(served):
    body = {"model": "default", "messages": USER, "max_tokens": 3, "stream": True}
    with httpx.stream("POST", f"{served.gateway.url}/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {READ_TOKEN}"}) as response:
        assert response.headers["content-type"] == "text/event-stream"
        events = [line for line in response.iter_lines() if line and not line.startswith(":")]
    assert all(line.startswith("data: ") for line in events)
    assert events[-1] == "data: [DONE]"
    assert all(json.loads(line[6:])["object"] == "chat.completion.chunk" for line in events[:-1])
