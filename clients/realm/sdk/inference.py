"""Inference helpers on top of the generated RPCs: load/unload/list models, generate, stream and chat."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from realm.common.v1 import common_pb2
from realm.inference.v1 import inference_pb2 as pb
from realm.sdk.core import ServiceClient

_BACKENDS = {"": pb.BACKEND_UNSPECIFIED, "transformers": pb.BACKEND_TRANSFORMERS, "tgi": pb.BACKEND_TGI}
# Loading pulls from the vault and reads weights: give it longer than an ordinary call.
LOAD_TIMEOUT_SECONDS = 900.0
# Response header (initial metadata) of GenerateStream/ChatStream once the request is accepted and queued,
# before its first token: `await call.initial_metadata()` tells a caller the request will be served.
ACCEPTED_METADATA_KEY = "x-realm-accepted"
ACCEPTED_METADATA = ((ACCEPTED_METADATA_KEY, "queued"),)


def model_name(model: str) -> str:
    """'hero' or 'models/hero' -> 'models/hero'."""
    return model if model.startswith("models/") else f"models/{model}"


def parameters(
    *,
    max_new_tokens: int = 0,
    temperature: float = 0.0,
    top_p: float = 0.0,
    top_k: int = 0,
    repetition_penalty: float = 0.0,
    stop: Iterable[str] = (),
    seed: int | None = None,
    return_tokens: bool = False,
    background: bool = False,
) -> pb.GenerationParameters:
    # background: idle-task work (realm.sdk.tasks): it only uses spare slots and is ABORTED ("preempted")
    # when an interactive request needs the slot.
    params = pb.GenerationParameters(
        max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, top_k=top_k,
        repetition_penalty=repetition_penalty, stop_sequences=list(stop), return_tokens=return_tokens,
        priority=pb.REQUEST_PRIORITY_BACKGROUND if background else pb.REQUEST_PRIORITY_UNSPECIFIED,
    )
    if seed is not None:
        params.seed = seed
    return params


def chat_messages(messages: Iterable[Mapping[str, str] | common_pb2.ChatMessage]) -> list[common_pb2.ChatMessage]:
    return [m if isinstance(m, common_pb2.ChatMessage) else common_pb2.ChatMessage(role=m["role"],
                                                                                   content=m["content"])
            for m in messages]


class InferenceClient(ServiceClient):
    """The inference service's RPCs plus plain-Python helpers."""

    def load(self, source: str, *, model_id: str = "", wait: bool = False, backend: str = "", dtype: str = "",
             quantization: str = "", timeout: float | None = None) -> pb.Model:
        request = pb.LoadModelRequest(source=source, model_id=model_id, backend=_BACKENDS[backend], dtype=dtype,
                                      quantization=quantization, wait=wait)
        return self.LoadModel(request, timeout=timeout or (LOAD_TIMEOUT_SECONDS if wait else None)).model

    def unload(self, model: str) -> None:
        self.UnloadModel(pb.UnloadModelRequest(name=model_name(model)))

    def get(self, model: str) -> pb.Model:
        return self.GetModel(pb.GetModelRequest(name=model_name(model))).model

    def models(self, page_size: int = 100) -> list[pb.Model]:
        found: list[pb.Model] = []
        token = ""
        while True:
            page = self.ListModels(pb.ListModelsRequest(page_size=page_size, page_token=token))
            found.extend(page.models)
            token = page.next_page_token
            if not token:
                return found

    def wait(self, model: str, timeout: float = LOAD_TIMEOUT_SECONDS) -> pb.Model:
        """Follow a model until it is READY or FAILED; returns the last state seen."""
        last = None
        for response in self.WatchModel(pb.WatchModelRequest(name=model_name(model)), timeout=timeout):
            last = response.model
        return last if last is not None else self.get(model)

    def generate(self, model: str, prompt: str, *, timeout: float | None = None,
                 **params: Any) -> pb.GenerateResponse:
        return self.Generate(pb.GenerateRequest(model=model_name(model), prompt=prompt,
                                                parameters=parameters(**params)), timeout=timeout)

    def stream(self, model: str, prompt: str, **params: Any) -> Iterator[pb.GenerateStreamResponse]:
        """Token messages, then one with the summary and the whole text. `.cancel()` on it stops generation."""
        return self.GenerateStream(pb.GenerateStreamRequest(model=model_name(model), prompt=prompt,
                                                            parameters=parameters(**params)))

    def chat(self, model: str, messages: Iterable[Mapping[str, str]], *, timeout: float | None = None,
             **params: Any) -> pb.ChatResponse:
        return self.Chat(pb.ChatRequest(model=model_name(model), messages=chat_messages(messages),
                                        parameters=parameters(**params)), timeout=timeout)

    def chat_stream(self, model: str, messages: Iterable[Mapping[str, str]],
                    **params: Any) -> Iterator[pb.ChatStreamResponse]:
        return self.ChatStream(pb.ChatStreamRequest(model=model_name(model), messages=chat_messages(messages),
                                                    parameters=parameters(**params)))


CLIENT_CLASS = InferenceClient
