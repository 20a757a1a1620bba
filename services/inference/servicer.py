"""gRPC adapter for the inference service: proto -> domain -> proto, nothing else."""

from __future__ import annotations

import contextlib

from realm.common.v1 import common_pb2
from realm.inference.v1 import inference_pb2 as pb
from realm.inference.v1 import inference_pb2_grpc
from realm.sdk.inference import ACCEPTED_METADATA
from services.inference.backend import (
    FINISH_CANCELLED,
    FINISH_EOS,
    FINISH_LENGTH,
    FINISH_STOP_SEQUENCE,
    Summary,
    TokenEvent,
)
from services.inference.params import GenerationLimits, SamplingParams
from services.inference.pool import BACKEND_TGI, BACKEND_TRANSFORMERS, LoadSpec, ModelPool, ModelView
from services.inference.task_rpcs import TaskRpcs, background_from_pb
from services.kit.convert import to_timestamp
from services.kit.paging import paginate

_STATES = {"LOADING": pb.MODEL_STATE_LOADING, "READY": pb.MODEL_STATE_READY, "FAILED": pb.MODEL_STATE_FAILED,
           "UNLOADING": pb.MODEL_STATE_UNLOADING}
_BACKENDS = {BACKEND_TRANSFORMERS: pb.BACKEND_TRANSFORMERS, BACKEND_TGI: pb.BACKEND_TGI}
_BACKENDS_IN = {pb.BACKEND_UNSPECIFIED: "", pb.BACKEND_TRANSFORMERS: BACKEND_TRANSFORMERS, pb.BACKEND_TGI: BACKEND_TGI}
_FINISH = {FINISH_LENGTH: pb.FINISH_REASON_LENGTH, FINISH_EOS: pb.FINISH_REASON_EOS,
           FINISH_STOP_SEQUENCE: pb.FINISH_REASON_STOP_SEQUENCE, FINISH_CANCELLED: pb.FINISH_REASON_CANCELLED}


def _accepted_by(context):
    """Send the response headers once the request is queued: the caller learns it will be served (and can answer
    its own client) before a slow first token."""

    async def accepted() -> None:
        await context.send_initial_metadata(ACCEPTED_METADATA)

    return accepted


def model_to_pb(view: ModelView, limits: GenerationLimits | None = None) -> pb.Model:
    return pb.Model(
        name=view.name, source=view.source, asset=view.asset, state=_STATES[view.state],
        backend=_BACKENDS.get(view.backend, pb.BACKEND_UNSPECIFIED), device=view.device, dtype=view.dtype,
        memory_bytes=view.memory_bytes, parameter_count=view.parameter_count, error=view.error,
        has_chat_template=view.has_chat_template, is_adapter=view.is_adapter,
        load_time=to_timestamp(view.load_time), last_used_time=to_timestamp(view.last_used_time),
        active_requests=view.active_requests, parent=view.parent, pinned=view.pinned,
        followed_alias=view.followed_alias, global_step=view.global_step,
        max_prompt_tokens=limits.max_prompt_tokens if limits else 0,
        max_new_tokens=limits.max_new_tokens if limits else 0,
    )


def params_from_pb(parameters: pb.GenerationParameters, limits: GenerationLimits) -> SamplingParams:
    return SamplingParams.build(
        limits, max_new_tokens=parameters.max_new_tokens, temperature=parameters.temperature,
        top_p=parameters.top_p, top_k=parameters.top_k, repetition_penalty=parameters.repetition_penalty,
        stop_sequences=list(parameters.stop_sequences),
        seed=parameters.seed if parameters.HasField("seed") else None, top_logprobs=parameters.top_logprobs,
        background=background_from_pb(parameters.priority),
    )


def summary_to_pb(summary: Summary) -> pb.GenerationSummary:
    return pb.GenerationSummary(
        finish_reason=_FINISH[summary.finish_reason], generated_tokens=summary.generated_tokens,
        prompt_tokens=summary.prompt_tokens, queue_seconds=summary.queue_seconds,
        time_to_first_token_seconds=summary.time_to_first_token_seconds,
        tokens_per_second=summary.tokens_per_second, total_seconds=summary.total_seconds,
        model=summary.model, asset=summary.asset, source=summary.source, seed=summary.seed,
        stop_sequence=summary.stop_sequence,
    )


def token_to_pb(token: TokenEvent) -> pb.Token:
    return pb.Token(id=token.id, text=token.text, logprob=token.logprob, special=token.special,
                    top_logprobs=[pb.TopLogprob(id=t.id, text=t.text, logprob=t.logprob) for t in token.top])


def _messages(messages) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


class InferenceServicer(TaskRpcs, inference_pb2_grpc.InferenceServiceServicer):
    def __init__(self, pool: ModelPool, limits: GenerationLimits) -> None:
        self._pool = pool
        self._limits = limits

    async def LoadModel(self, request: pb.LoadModelRequest, context) -> pb.LoadModelResponse:
        spec = LoadSpec(source=request.source, model_id=request.model_id, backend=_BACKENDS_IN[request.backend],
                        dtype=request.dtype, quantization=request.quantization)
        return pb.LoadModelResponse(model=self._model(await self._pool.load(spec, wait=request.wait)))

    async def UnloadModel(self, request: pb.UnloadModelRequest, context) -> pb.UnloadModelResponse:
        await self._pool.unload(request.name)
        return pb.UnloadModelResponse()

    async def GetModel(self, request: pb.GetModelRequest, context) -> pb.GetModelResponse:
        return pb.GetModelResponse(model=self._model(self._pool.get(request.name)))

    async def ListModels(self, request: pb.ListModelsRequest, context) -> pb.ListModelsResponse:
        page, next_token = paginate(self._pool.list(), request.page_size, request.page_token)
        return pb.ListModelsResponse(models=[self._model(m) for m in page], next_page_token=next_token)

    async def WatchModel(self, request: pb.WatchModelRequest, context):
        async with contextlib.aclosing(self._pool.watch(request.name)) as views:
            async for view in views:
                yield pb.WatchModelResponse(model=self._model(view))

    async def Generate(self, request: pb.GenerateRequest, context) -> pb.GenerateResponse:
        params = params_from_pb(request.parameters, self._limits)
        completion = await self._pool.generate(request.model, request.prompt, params)
        wants_tokens = request.parameters.return_tokens or request.parameters.top_logprobs > 0
        tokens = [token_to_pb(t) for t in completion.tokens] if wants_tokens else []
        return pb.GenerateResponse(text=completion.text, summary=summary_to_pb(completion.summary), tokens=tokens)

    async def GenerateStream(self, request: pb.GenerateStreamRequest, context):
        params = params_from_pb(request.parameters, self._limits)
        events = self._pool.generate_stream(request.model, request.prompt, params, kind="generate_stream",
                                            on_accepted=_accepted_by(context))
        async for message in self._stream(events, pb.GenerateStreamResponse):
            yield message

    async def Chat(self, request: pb.ChatRequest, context) -> pb.ChatResponse:
        params = params_from_pb(request.parameters, self._limits)
        prompt = await self._pool.chat_prompt(request.model, _messages(request.messages))
        completion = await self._pool.generate(request.model, prompt, params, kind="chat",
                                               chat_template_applied=True)
        wants_tokens = request.parameters.return_tokens or request.parameters.top_logprobs > 0
        return pb.ChatResponse(message=common_pb2.ChatMessage(role="assistant", content=completion.text),
                               summary=summary_to_pb(completion.summary), rendered_prompt=prompt,
                               tokens=[token_to_pb(t) for t in completion.tokens] if wants_tokens else [])

    async def ChatStream(self, request: pb.ChatStreamRequest, context):
        params = params_from_pb(request.parameters, self._limits)
        prompt = await self._pool.chat_prompt(request.model, _messages(request.messages))
        events = self._pool.generate_stream(request.model, prompt, params, kind="chat_stream",
                                            chat_template_applied=True, on_accepted=_accepted_by(context))
        async for message in self._stream(events, pb.ChatStreamResponse):
            yield message

    async def Tokenize(self, request: pb.TokenizeRequest, context) -> pb.TokenizeResponse:
        pieces = await self._pool.tokenize(request.model, request.prompt,
                                           add_special_tokens=not request.skip_special_tokens)
        return pb.TokenizeResponse(tokens=[pb.TokenizedPiece(id=p.id, text=p.text, start=p.start, stop=p.stop)
                                           for p in pieces])

    def _model(self, view: ModelView) -> pb.Model:
        return model_to_pb(view, self._limits)

    @staticmethod
    async def _stream(events, message_type):
        # aclosing: when the client goes away grpc cancels this task, and closing the stream cancels the request.
        async with contextlib.aclosing(events) as stream:
            async for event in stream:
                if isinstance(event, TokenEvent):
                    yield message_type(token=token_to_pb(event))
                else:
                    yield message_type(summary=summary_to_pb(event), text=event.text)
