"""TGI-compatible HTTP (text-generation-inference's docs/openapi.json is the reference): `/` (compat: a list, or
a stream when `stream: true`), `/generate`, `/generate_stream` (SSE, no `[DONE]`: the last event carries the last
token, `generated_text` and `details`), `/info`, `/health`, `/tokenize`. Errors are `{"error", "error_type"}`
with 422 (validation), 424 (generation), 429 (overloaded). The model is the served default unless the caller
names another in `X-Realm-Model`.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc

from realm.inference.v1 import inference_pb2 as ipb
from realm.sdk.aio import AsyncRealm
from services.gateway import errors
from services.gateway.config import GatewayConfig
from services.gateway.edge import CALLER_KEY, REQUEST_ID_KEY, Metrics, log, public, read_json
from services.gateway.errors import HttpError, rpc_failure
from services.gateway.generation import (
    Choice,
    Fields,
    collect,
    ignored_fields,
    model_name,
    open_streams,
    parameters,
)
from services.gateway.sse import SseWriter, is_end

PARAMETERS = frozenset({"max_new_tokens", "temperature", "top_k", "top_p", "repetition_penalty", "seed", "stop",
                        "details", "decoder_input_details", "return_full_text", "top_n_tokens", "do_sample",
                        "best_of"})
FINISH = {ipb.FINISH_REASON_LENGTH: "length", ipb.FINISH_REASON_EOS: "eos_token",
          ipb.FINISH_REASON_STOP_SEQUENCE: "stop_sequence"}
VERSION = "realm-gateway-1"


@dataclass(frozen=True)
class TgiAsk:
    inputs: str
    params: ipb.GenerationParameters
    stream: bool
    details: bool
    top_n: int
    prefix: str  # the prompt, when return_full_text asks for it in generated_text


def _token(token: ipb.Token) -> dict:
    return {"id": token.id, "text": token.text, "logprob": token.logprob, "special": token.special}


def _top(token: ipb.Token, n: int) -> list[dict]:
    return [{"id": t.id, "text": t.text, "logprob": t.logprob, "special": False} for t in token.top_logprobs[:n]]


class TgiRoutes:
    def __init__(self, config: GatewayConfig, realm: AsyncRealm, metrics: Metrics) -> None:
        self.config = config
        self.realm = realm
        self.metrics = metrics

    def _inference(self, request: web.Request):
        caller = request[CALLER_KEY]
        return self.realm.for_token(caller.token, request_id=request[REQUEST_ID_KEY]).inference

    def _model(self, request: web.Request) -> str:
        return model_name(self.config, request.headers.get("X-Realm-Model", ""))

    async def _request(self, request: web.Request) -> TgiAsk:
        body = await read_json(request, self.config, self.config.limits.generation_bytes, allow_empty=False)
        if not isinstance(body, dict):
            raise HttpError(422, f"request body: expected a JSON object, got {type(body).__name__}", field="body")
        inputs = body.get("inputs")
        if not isinstance(inputs, str) or not inputs:
            raise HttpError(422, "inputs: expected a non-empty string", field="inputs")
        fields = Fields(body).mapping("parameters")
        ignored = ignored_fields(fields.body, PARAMETERS)
        if ignored:
            log.warning("tgi parameters ignored", fields=ignored, path=request.path)
        fields.integer("best_of", low=1, high=1)  # only 1 is served (TGI's default)
        fields.boolean("decoder_input_details")  # prefill logprobs are not computed: `prefill` is []
        temperature = fields.number("temperature", low=0, high=100, low_open=True)
        if fields.boolean("do_sample") and temperature is None:
            temperature = 1.0
        top_n = fields.integer("top_n_tokens", low=1, high=20, default=0)
        params = parameters(
            max_new_tokens=fields.integer("max_new_tokens", low=1, high=1 << 20), temperature=temperature,
            top_p=fields.number("top_p", low=0, high=1, low_open=True, high_open=True),
            top_k=fields.integer("top_k", low=1, high=1 << 20),
            repetition_penalty=fields.number("repetition_penalty", low=0, high=100, low_open=True),
            stops=fields.stops("stop"), seed=fields.integer("seed", low=0, high=(1 << 63) - 1), top_logprobs=top_n)
        return TgiAsk(inputs, params, Fields(body).boolean("stream"), fields.boolean("details"), top_n,
                      inputs if fields.boolean("return_full_text") else "")

    async def generate(self, request: web.Request) -> web.StreamResponse:
        """POST /generate (one object) and POST / (a list of one, or a stream with `stream: true`)."""
        try:
            ask = await self._request(request)
            params, top_n, prefix = ask.params, ask.top_n, ask.prefix
            streaming = request.path == "/generate_stream" or (request.path == "/" and ask.stream)
            call = self._inference(request).GenerateStream(ipb.GenerateStreamRequest(
                model=self._model(request), prompt=ask.inputs, parameters=params))
            streams, firsts = await open_streams([call], self.metrics, request.match_info.route.resource.canonical,
                                                 headers_within=self.config.stream_headers_seconds if streaming
                                                 else None)
        except HttpError as error:
            return errors.tgi_response(error)
        if streaming:
            return await self._stream(request, streams[0], firsts[0], params, top_n, prefix)
        choice = Choice(0, tuple(params.stop_sequences))
        try:
            await collect(streams[0], firsts[0], choice)
        except HttpError as error:
            return errors.tgi_response(error)
        finally:
            streams[0].close()
        result: dict = {"generated_text": prefix + (choice.final_text or "")}
        if ask.details:
            summary = choice.summary
            result["details"] = {
                "finish_reason": FINISH.get(summary.finish_reason, "length"),
                "generated_tokens": summary.generated_tokens,
                "seed": summary.seed if summary.HasField("seed") else None,
                "prefill": [], "tokens": [_token(t) for t in choice.tokens]}
            if top_n:
                result["details"]["top_tokens"] = [_top(t, top_n) for t in choice.tokens]
        return web.json_response([result] if request.path == "/" else result)

    async def _stream(self, request, upstream, first, params, top_n: int, prefix: str) -> web.StreamResponse:
        writer = SseWriter(request, self.metrics, request.match_info.route.resource.canonical)
        choice = Choice(0, tuple(params.stop_sequences))
        held = None  # the newest token waits, so the last one can travel with generated_text and details

        def event(token: ipb.Token, index: int, **final) -> dict:
            data = {"index": index, "token": _token(token), "generated_text": None, "details": None}
            if top_n:
                data["top_tokens"] = _top(token, top_n)
            data.update(final)
            return data

        await writer.open()
        try:
            item = first  # None: the request was accepted and no token has come yet
            while True:
                while item is None:
                    item = await upstream.next(self.config.heartbeat_seconds)
                    if item is None:
                        await writer.comment()
                if isinstance(item, grpc.RpcError):
                    raise rpc_failure(item)
                if is_end(item):
                    raise HttpError(424, "the inference service ended the stream before its summary")
                if item.HasField("token"):
                    choice.add_token(item.token)
                    if held is not None:
                        await writer.event(event(held, len(choice.tokens) - 1))
                    held = item.token
                else:
                    choice.finish(item)
                    summary = item.summary
                    last = held if held is not None else ipb.Token(special=True)
                    await writer.event(event(last, len(choice.tokens), generated_text=prefix + choice.final_text,
                                             details={"finish_reason": FINISH.get(summary.finish_reason, "length"),
                                                      "generated_tokens": summary.generated_tokens,
                                                      "seed": summary.seed if summary.HasField("seed") else None,
                                                      "input_length": summary.prompt_tokens}))
                    return writer.response
                item = None
        except HttpError as error:
            await writer.event(errors.tgi_body(error))
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            upstream.close()
            writer.close()
        return writer.response

    async def info(self, request: web.Request) -> web.Response:
        try:
            model = (await self._inference(request).GetModel(ipb.GetModelRequest(name=self.config.default_model))).model
        except grpc.RpcError as exc:
            return errors.tgi_response(rpc_failure(exc))
        return web.json_response({
            "model_id": model.name, "model_sha": model.asset or None, "model_dtype": model.dtype,
            "model_device_type": model.device, "model_pipeline_tag": "text-generation",
            "max_concurrent_requests": 128, "max_best_of": 1, "max_stop_sequences": 16,
            "max_input_tokens": model.max_prompt_tokens, "max_input_length": model.max_prompt_tokens,
            "max_total_tokens": model.max_prompt_tokens + model.max_new_tokens, "validation_workers": 1,
            "max_client_batch_size": 1, "router": "realm-gateway", "version": VERSION, "sha": None,
            "docker_label": None, "checkpoint": model.asset or None, "parent": model.parent or None})

    @public
    async def health(self, request: web.Request) -> web.Response:
        """200 when the inference service is SERVING (the grpc.health.v1 check needs no token)."""
        try:
            stub = health_pb2_grpc.HealthStub(self.realm.channel("inference"))
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5.0)
            serving = reply.status == health_pb2.HealthCheckResponse.SERVING
        except (grpc.RpcError, KeyError):
            serving = False
        if not serving:
            return web.json_response({"error": "unhealthy", "error_type": "healthcheck"}, status=503)
        return web.json_response({})

    async def tokenize(self, request: web.Request) -> web.Response:
        try:
            body = await read_json(request, self.config, self.config.limits.generation_bytes, allow_empty=False)
            inputs = body.get("inputs") if isinstance(body, dict) else None
            if not isinstance(inputs, str):
                raise HttpError(422, "inputs: expected a string", field="inputs")
            reply = await self._inference(request).Tokenize(ipb.TokenizeRequest(model=self._model(request),
                                                                                prompt=inputs))
        except HttpError as error:
            return errors.tgi_response(error)
        except grpc.RpcError as exc:
            return errors.tgi_response(rpc_failure(exc))
        return web.json_response([{"id": p.id, "text": p.text, "start": p.start, "stop": p.stop}
                                  for p in reply.tokens])
