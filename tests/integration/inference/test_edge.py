"""The service's edge for HTTP-compatible callers: size caps before tokenising, tokenising off the event loop
(health keeps answering), logprobs with alternatives in unary and streamed replies, Tokenize, opaque pages."""

from __future__ import annotations

import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from realm.inference.v1 import inference_pb2 as pb

from .test_inference_service import PROMPT, loaded

pytestmark = pytest.mark.integration


def test_health_answers_while_a_big_prompt_is_tokenised(inference, hero_dir, monkeypatch):
    from services.inference.transformers_backend import TransformersBackend

    realm = loaded(inference, hero_dir)
    started, release = threading.Event(), threading.Event()
    real_encode = TransformersBackend.encode

    def slow_encode(self, prompt, **kwargs):  # holds the tokeniser until the test has checked health
        if len(prompt) > 100_000:
            started.set()
            release.wait(60)
        return real_encode(self, prompt, **kwargs)

    monkeypatch.setattr(TransformersBackend, "encode", slow_encode)
    outcome = {}

    def big_request():
        try:
            realm.inference.generate("hero", "1 " * 100_000, max_new_tokens=1)
        except grpc.RpcError as error:
            outcome["code"] = error.code()

    caller = threading.Thread(target=big_request)
    caller.start()
    channel = grpc.insecure_channel(inference.address)
    try:
        assert started.wait(60)
        # the event loop is free while the prompt is being tokenised: health and other calls are answered
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=30)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        assert realm.inference.generate("hero", PROMPT, max_new_tokens=2).summary.generated_tokens == 2
    finally:
        release.set()
        caller.join(60)
        channel.close()
    assert outcome["code"] == grpc.StatusCode.INVALID_ARGUMENT  # 200,000 tokens: over max_prompt_tokens


def test_prompt_and_chat_byte_caps(services, tmp_path, hero_dir):
    from services.inference.app import setup as inference_setup

    from .conftest import inference_settings

    running = services.start(inference_settings(tmp_path, limits={"max_prompt_bytes": 1000}), "inference",
                             inference_setup)
    realm = loaded(running, hero_dir)
    for call, field in ((lambda: realm.inference.generate("hero", "x" * 1001), "prompt"),
                        (lambda: list(realm.inference.stream("hero", "é" * 501)), "prompt"),
                        (lambda: realm.inference.chat("hero", [{"role": "user", "content": "x" * 600},
                                                               {"role": "user", "content": "y" * 401}]), "messages"),
                        (lambda: realm.inference.Tokenize(pb.TokenizeRequest(model="models/hero", prompt="z" * 1001)),
                         "prompt")):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details().startswith(field)
    assert realm.inference.generate("hero", "x" * 900, max_new_tokens=1).summary.generated_tokens == 1


def test_logprobs_with_alternatives_unary_and_streamed(inference, hero_dir):
    realm = loaded(inference, hero_dir)
    params = pb.GenerationParameters(max_new_tokens=5, temperature=0.8, seed=5, top_logprobs=3)
    unary = realm.inference.Generate(pb.GenerateRequest(model="models/hero", prompt=PROMPT, parameters=params))
    streamed = list(realm.inference.GenerateStream(pb.GenerateStreamRequest(model="models/hero", prompt=PROMPT,
                                                                           parameters=params)))
    tokens = [m.token for m in streamed if m.WhichOneof("item") == "token"]
    assert len(unary.tokens) == len(tokens) == 5  # top_logprobs alone asks for tokens in a unary reply
    for one, other in zip(unary.tokens, tokens, strict=True):
        assert one.id == other.id and len(one.top_logprobs) == len(other.top_logprobs) == 3
        assert [t.id for t in one.top_logprobs] == [t.id for t in other.top_logprobs]
        values = [t.logprob for t in one.top_logprobs]
        assert values == sorted(values, reverse=True) and one.logprob <= values[0] + 1e-6
    summary = streamed[-1].summary
    assert unary.summary.seed == summary.seed == 5 and summary.model == "models/hero"
    chat = realm.inference.Chat(pb.ChatRequest(model="models/hero", parameters=params,
                                               messages=[{"role": "user", "content": "hi"}]))
    assert len(chat.tokens) == 5 and all(len(t.top_logprobs) == 3 for t in chat.tokens)
    with pytest.raises(grpc.RpcError) as caught:
        realm.inference.Generate(pb.GenerateRequest(model="models/hero", prompt=PROMPT,
                                                    parameters=pb.GenerationParameters(top_logprobs=21)))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("parameters.top_logprobs")


def test_tokenize_and_opaque_page_tokens(inference, hero_dir):
    from transformers import AutoTokenizer

    realm = loaded(inference, hero_dir)
    reply = realm.inference.Tokenize(pb.TokenizeRequest(model="models/hero", prompt=PROMPT))
    assert [t.id for t in reply.tokens] == AutoTokenizer.from_pretrained(hero_dir)(PROMPT).input_ids
    assert "".join(t.text for t in reply.tokens) == PROMPT and reply.tokens[-1].stop == len(PROMPT)
    realm.inference.load(str(hero_dir), model_id="zeta", wait=True)
    first = realm.inference.ListModels(pb.ListModelsRequest(page_size=1))
    assert first.next_page_token and "hero" not in first.next_page_token  # not a raw model name
    with pytest.raises(grpc.RpcError) as caught:
        realm.inference.ListModels(pb.ListModelsRequest(page_size=1, page_token="models/hero"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("page_token")
    model = realm.inference.get("hero")
    assert model.max_prompt_tokens > 0 and model.max_new_tokens > 0 and not model.pinned
