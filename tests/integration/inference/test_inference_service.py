"""The inference service over real gRPC: load, generate, stream, chat, errors, auth, cancellation, readiness."""

from __future__ import annotations

import shutil
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fixtures.kit import READ_TOKEN
from realm.inference.v1 import inference_pb2 as pb
from services.inference.app import setup as inference_setup

from .conftest import inference_settings

pytestmark = pytest.mark.integration

PROMPT = "How many letters are in 'apple'? Answer:"


def loaded(inference, hero_dir, model_id="hero"):
    realm = inference.connect()
    model = realm.inference.load(str(hero_dir), model_id=model_id, wait=True)
    assert model.state == pb.MODEL_STATE_READY
    return realm


def test_load_list_get_and_unload(inference, hero_dir):
    realm = loaded(inference, hero_dir)
    models = realm.inference.models()
    assert [m.name for m in models] == ["models/hero"]
    model = realm.inference.get("hero")
    assert model.backend == pb.BACKEND_TRANSFORMERS and model.device == "cpu" and model.dtype == "float32"
    assert model.memory_bytes > 0 and model.has_chat_template and model.load_time.seconds > 0
    realm.inference.unload("hero")
    with pytest.raises(grpc.RpcError) as caught:
        realm.inference.get("hero")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_stream_equals_unary_for_the_same_seed(inference, hero_dir):
    realm = loaded(inference, hero_dir)
    params = {"max_new_tokens": 30, "temperature": 0.9, "top_p": 0.95, "seed": 1234, "return_tokens": True}
    unary = realm.inference.generate("hero", PROMPT, **params)
    streamed = list(realm.inference.stream("hero", PROMPT, **params))
    tokens = [m.token for m in streamed if m.WhichOneof("item") == "token"]
    final = streamed[-1]
    assert final.WhichOneof("item") == "summary"
    assert [t.id for t in tokens] == [t.id for t in unary.tokens]
    assert [round(t.logprob, 5) for t in tokens] == [round(t.logprob, 5) for t in unary.tokens]
    assert final.text == unary.text
    assert final.summary.generated_tokens == unary.summary.generated_tokens == 30
    assert final.summary.finish_reason == pb.FINISH_REASON_LENGTH
    assert final.summary.prompt_tokens > 0 and final.summary.time_to_first_token_seconds > 0


def test_chat_renders_with_the_checkpoint_template(inference, hero_dir):
    from transformers import AutoTokenizer

    realm = loaded(inference, hero_dir)
    messages = [{"role": "system", "content": "answer briefly"}, {"role": "user", "content": "1 + 1 ="}]
    response = realm.inference.chat("hero", messages, max_new_tokens=8)
    expected = AutoTokenizer.from_pretrained(hero_dir).apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True)
    assert response.rendered_prompt == expected
    assert response.message.role == "assistant" and response.summary.generated_tokens == 8
    chunks = list(realm.inference.chat_stream("hero", messages, max_new_tokens=8))
    assert chunks[-1].text == response.message.content  # greedy: streamed chat == unary chat


@pytest.mark.parametrize(("params", "field"), [
    ({"temperature": -1.0}, "parameters.temperature"),
    ({"top_p": 2.0}, "parameters.top_p"),
    ({"max_new_tokens": 5000}, "parameters.max_new_tokens"),
    ({"stop": [""]}, "parameters.stop_sequences[0]"),
])
def test_bad_parameters_are_invalid_argument(inference, hero_dir, params, field):
    realm = loaded(inference, hero_dir)
    with pytest.raises(grpc.RpcError) as caught:
        realm.inference.generate("hero", PROMPT, **params)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(field)


def test_unknown_model_and_bad_chat(inference, hero_dir):
    realm = loaded(inference, hero_dir)
    with pytest.raises(grpc.RpcError) as caught:
        realm.inference.generate("nobody", PROMPT)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        realm.inference.chat("hero", [{"role": "wizard", "content": "hi"}])
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "messages[0].role" in caught.value.details()


def test_corrupt_checkpoint_is_failed_precondition_and_old_model_answers(inference, hero_dir, tmp_path):
    realm = loaded(inference, hero_dir)
    before = realm.inference.generate("hero", PROMPT, max_new_tokens=10, return_tokens=True)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(hero_dir, corrupt)
    (corrupt / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(grpc.RpcError) as caught:
        realm.inference.load(str(corrupt), model_id="hero", wait=True)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "cannot load checkpoint" in caught.value.details()
    after = realm.inference.generate("hero", PROMPT, max_new_tokens=10, return_tokens=True)
    assert [t.id for t in after.tokens] == [t.id for t in before.tokens]
    assert realm.inference.get("hero").state == pb.MODEL_STATE_READY


def test_auth_roles(inference, hero_dir):
    loaded(inference, hero_dir)
    reader = inference.connect(token=READ_TOKEN)
    assert reader.inference.generate("hero", PROMPT, max_new_tokens=3).summary.generated_tokens == 3
    assert list(reader.inference.stream("hero", PROMPT, max_new_tokens=2))[-1].summary.generated_tokens == 2
    assert reader.inference.chat("hero", [{"role": "user", "content": "hi"}], max_new_tokens=2).message.role
    assert [m.name for m in reader.inference.models()] == ["models/hero"]
    assert reader.inference.get("hero").state == pb.MODEL_STATE_READY
    assert reader.inference.wait("hero").state == pb.MODEL_STATE_READY
    for call in (lambda: reader.inference.load(str(hero_dir), model_id="other"),
                 lambda: reader.inference.unload("hero")):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    anonymous = inference.connect(token=None)
    with pytest.raises(grpc.RpcError) as caught:
        anonymous.inference.generate("hero", PROMPT)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def _active(realm) -> int:
    return realm.inference.get("hero").active_requests


def _wait_active(realm, count: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _active(realm) == count:
            return
        time.sleep(0.02)
    raise AssertionError(f"active_requests stayed {_active(realm)}, expected {count}")


def test_cancelled_stream_frees_its_slot(inference, hero_dir):
    realm = loaded(inference, hero_dir)
    call = realm.inference.stream("hero", PROMPT, max_new_tokens=4000)
    first = next(call)
    assert first.WhichOneof("item") == "token"
    _wait_active(realm, 1)
    call.cancel()  # the client goes away
    _wait_active(realm, 0)


def test_client_deadline_frees_its_slot(inference, hero_dir):
    realm = loaded(inference, hero_dir)
    with pytest.raises(grpc.RpcError) as caught:
        realm.inference.Generate(pb.GenerateRequest(model="models/hero", prompt=PROMPT,
                                                    parameters=pb.GenerationParameters(max_new_tokens=4000)),
                                 timeout=0.5)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    _wait_active(realm, 0)


def test_full_queue_is_resource_exhausted(services, tmp_path, hero_dir):
    running = services.start(inference_settings(tmp_path, max_batch_size=1, max_queue=1), "inference",
                             inference_setup)
    realm = loaded(running, hero_dir)
    holder = realm.inference.stream("hero", PROMPT, max_new_tokens=4000)
    next(holder)  # holds the only batch slot
    queued_result = {}

    def queued():
        queued_result["response"] = realm.inference.generate("hero", PROMPT, max_new_tokens=2)

    waiter = threading.Thread(target=queued)
    waiter.start()
    _wait_active(realm, 2)  # one running, one queued
    with pytest.raises(grpc.RpcError) as caught:
        realm.inference.generate("hero", PROMPT, max_new_tokens=2)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    holder.cancel()
    waiter.join(30)
    assert queued_result["response"].summary.generated_tokens == 2


def test_readiness_waits_for_the_default_model(services, tmp_path, hero_dir, monkeypatch):
    from services.inference.transformers_backend import TransformersBackend

    release = threading.Event()
    real_load = TransformersBackend.load.__func__

    def gated_load(cls, *args, **kwargs):  # hold the default model in LOADING until the test lets it go
        release.wait(30)
        return real_load(cls, *args, **kwargs)

    monkeypatch.setattr(TransformersBackend, "load", classmethod(gated_load))
    settings = inference_settings(tmp_path, default_model={"source": str(hero_dir), "id": "default"})
    running = services.start(settings, "inference", inference_setup)
    channel = grpc.insecure_channel(running.address)
    health = health_pb2_grpc.HealthStub(channel)

    def status():
        return health.Check(health_pb2.HealthCheckRequest(service="")).status

    try:
        assert status() == health_pb2.HealthCheckResponse.NOT_SERVING
        assert running.connect().inference.get("default").state == pb.MODEL_STATE_LOADING
        release.set()
        deadline = time.monotonic() + 60
        while status() != health_pb2.HealthCheckResponse.SERVING and time.monotonic() < deadline:
            time.sleep(0.01)
        assert status() == health_pb2.HealthCheckResponse.SERVING
        assert running.connect().inference.get("default").state == pb.MODEL_STATE_READY
    finally:
        release.set()
        channel.close()


def test_failed_default_model_keeps_service_not_serving(services, tmp_path):
    settings = inference_settings(tmp_path, default_model=str(tmp_path / "missing"))
    running = services.start(settings, "inference", inference_setup)
    realm = running.connect()
    deadline = time.monotonic() + 30
    while realm.inference.models()[0].state == pb.MODEL_STATE_LOADING and time.monotonic() < deadline:
        time.sleep(0.02)
    assert realm.inference.models()[0].state == pb.MODEL_STATE_FAILED
    channel = grpc.insecure_channel(running.address)
    status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="")).status
    channel.close()
    assert status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_watch_pagination_and_non_blocking_load(inference, hero_dir):
    realm = inference.connect()
    started = realm.inference.load(str(hero_dir), model_id="a")  # returns at once
    assert started.state in (pb.MODEL_STATE_LOADING, pb.MODEL_STATE_READY)
    states = [r.model.state for r in realm.inference.WatchModel(pb.WatchModelRequest(name="models/a"), timeout=60)]
    assert states[-1] == pb.MODEL_STATE_READY
    realm.inference.load(str(hero_dir), model_id="b", wait=True)
    first = realm.inference.ListModels(pb.ListModelsRequest(page_size=1))
    assert [m.name for m in first.models] == ["models/a"] and first.next_page_token
    second = realm.inference.ListModels(pb.ListModelsRequest(page_size=1, page_token=first.next_page_token))
    assert [m.name for m in second.models] == ["models/b"] and not second.next_page_token
    assert [m.name for m in realm.inference.models(page_size=1)] == ["models/a", "models/b"]
