"""TGI's own client (`text-generation`) and `huggingface_hub.InferenceClient` against the gateway's TGI routes
over a real inference service; and a failure in the middle of a stream, from a TGI backend that drops its link."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
import text_generation
from huggingface_hub import InferenceClient

from fixtures.kit import READ_TOKEN
from fixtures.tgi import FakeTgiServer
from realm.inference.v1 import inference_pb2

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {READ_TOKEN}"}
PROMPT = "add(①⓪, ①①) ="


@pytest.fixture(scope="module")
def tgi(served):
    return text_generation.Client(served.gateway.url, headers=AUTH, timeout=120)


@pytest.fixture(scope="module")
def hub(served):
    """The tests run with HF_HUB_OFFLINE=1, which blocks even loopback; this client only talks to 127.0.0.1."""
    from huggingface_hub import constants
    from huggingface_hub.utils import reset_sessions

    offline, constants.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE, False
    reset_sessions()
    yield InferenceClient(base_url=served.gateway.url, api_key=READ_TOKEN, timeout=120)
    constants.HF_HUB_OFFLINE = offline
    reset_sessions()


def test_text_generation_client_generate_with_details(tgi, served):
    reply = tgi.generate(PROMPT, max_new_tokens=6)
    assert reply.details.generated_tokens == len(reply.details.tokens) > 0
    assert reply.details.finish_reason.value in ("length", "eos_token")
    direct = served.admin.inference.Generate(inference_pb2.GenerateRequest(
        model="models/default", prompt=PROMPT, parameters=inference_pb2.GenerationParameters(max_new_tokens=6)))
    assert reply.generated_text == direct.text


def test_text_generation_client_stream_has_no_done_and_ends_with_details(tgi, served):
    unary = tgi.generate(PROMPT, max_new_tokens=6)
    events = list(tgi.generate_stream(PROMPT, max_new_tokens=6))
    assert [e.token.id for e in events] == [t.id for t in unary.details.tokens]
    assert all(e.generated_text is None and e.details is None for e in events[:-1])
    assert events[-1].generated_text == unary.generated_text
    assert events[-1].details.generated_tokens == unary.details.generated_tokens
    with httpx.stream("POST", f"{served.gateway.url}/generate_stream", headers=AUTH,
                      json={"inputs": PROMPT, "parameters": {"max_new_tokens": 3}}) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data:")]
    assert "data: [DONE]" not in lines and json.loads(lines[-1][5:])["generated_text"] is not None


def test_text_generation_client_sees_tgi_errors(tgi, served):
    with pytest.raises(text_generation.errors.ValidationError):
        tgi.generate(PROMPT, max_new_tokens=4, top_n_tokens=50)
    missing = httpx.post(f"{served.gateway.url}/generate", headers=AUTH, json={"parameters": {}})
    assert missing.status_code == 422 and missing.json() == {"error": "inputs: expected a non-empty string",
                                                             "error_type": "validation"}
    wrong = httpx.post(f"{served.gateway.url}/generate", headers={**AUTH, "X-Realm-Model": "nowhere"},
                       json={"inputs": PROMPT})
    assert wrong.status_code == 422 and wrong.json()["error_type"] == "validation"


def test_hub_text_generation_details_and_stream(hub):
    output = hub.text_generation(PROMPT, max_new_tokens=5, details=True)
    assert output.details.generated_tokens == len(output.details.tokens)
    streamed = list(hub.text_generation(PROMPT, max_new_tokens=5, details=True, stream=True))
    assert streamed[-1].generated_text == output.generated_text
    assert [s.token.id for s in streamed] == [t.id for t in output.details.tokens]
    # a random-init hero may emit partial UTF-8 byte tokens (empty pieces), so count pieces, not joined text
    pieces = list(hub.text_generation(PROMPT, max_new_tokens=5, stream=True))
    assert len(pieces) == len([t for t in output.details.tokens if not t.special])


def test_hub_chat_completion_without_a_model_uses_the_default(hub):
    reply = hub.chat_completion([{"role": "user", "content": "add(①⓪, ①①)"}], max_tokens=4)
    assert reply.choices[0].message.role == "assistant" and reply.usage.completion_tokens <= 4
    chunks = list(hub.chat_completion([{"role": "user", "content": "add(①⓪, ①①)"}], max_tokens=4, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == reply.choices[0].message.content


def test_info_health_and_tokenize(hub, served):
    endpoint = InferenceClient(model=served.gateway.url, provider="hf-inference", api_key=READ_TOKEN, timeout=60)
    info = endpoint.get_endpoint_info()
    assert endpoint.health_check()
    assert info["model_id"] == "models/default" and info["max_input_tokens"] > 0
    assert httpx.get(f"{served.gateway.url}/health").status_code == 200
    pieces = httpx.post(f"{served.gateway.url}/tokenize", headers=AUTH, json={"inputs": "add(1, 2)"}).json()
    assert pieces and {"id", "text", "start", "stop"} <= set(pieces[0])
    assert "".join(p["text"] for p in pieces) == "add(1, 2)"


def test_a_failure_mid_stream_is_an_error_event(served):
    fake = served.background.enter(FakeTgiServer(token_delay_seconds=0.05))
    served.admin.inference.LoadModel(inference_pb2.LoadModelRequest(
        source=fake.url, model_id="echo", backend=inference_pb2.BACKEND_TGI, wait=True), timeout=60)

    async def cut_links():
        for connection in fake._runner.server.connections:
            connection.force_close()

    client = openai.OpenAI(base_url=f"{served.gateway.url}/v1", api_key=READ_TOKEN, max_retries=0)
    stream = client.completions.create(model="echo", prompt="x" * 400, max_tokens=400, stream=True)
    first = next(iter(stream))
    assert first.choices[0].text == "e"
    served.background.run(cut_links())
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
    with httpx.stream("POST", f"{served.gateway.url}/generate_stream", headers={**AUTH, "X-Realm-Model": "echo"},
                      json={"inputs": "y" * 400, "parameters": {"max_new_tokens": 400}}) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith("data:"))
        served.background.run(cut_links())
        last = [line for line in lines if line.startswith("data:")][-1]
    assert json.loads(last[5:])["error_type"] == "generation"
