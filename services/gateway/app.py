"""The gateway: REST + SSE derived from the protos' http annotations, the Tavern UI, OpenAI- and TGI-compatible
HTTP, an OpenAPI document and /metrics. It owns nothing durable; every call goes to a service through the SDK with
the caller's own bearer token (the services do the auth).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web
from google.protobuf import json_format
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest

from realm.common.v1 import common_pb2
from realm.inference.v1 import inference_pb2
from realm.sdk.core import SERVICES, connect
from services.gateway.openapi import openapi_document
from services.gateway.routes import Route, build_request, routes_for

TAVERN_DIR = Path(__file__).parent / "tavern"
CHUNK_BYTES = 1 << 20
KEEPALIVE_SECONDS = 10.0
GATEWAY_KEY = web.AppKey("gateway", object)
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
HTTP_REQUESTS = Counter("realm_gateway_http_requests_total", "HTTP requests", ["route", "status"])


def all_routes() -> list[Route]:
    routes = []
    for name, spec in SERVICES.items():
        descriptor = spec.module.DESCRIPTOR.services_by_name[spec.full_name.rsplit(".", 1)[-1]]
        routes += routes_for(name, descriptor)
    return routes


def _error(status: int, message: str, code: str = "") -> web.Response:
    return web.json_response({"error": {"code": status, "status": code, "message": message}}, status=status)


def _rpc_error(exc: grpc.RpcError) -> web.Response:
    code = exc.code()
    return _error(HTTP_STATUS.get(code, 500), exc.details() or code.name, code.name)


def _to_json(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


class Gateway:
    def __init__(self, addresses: dict[str, str], default_model: str = "models/default") -> None:
        self.addresses = addresses
        self.default_model = default_model
        self.routes = all_routes()

    def sdk(self, request: web.Request):
        header = request.headers.get("Authorization", "")
        token = header.partition(" ")[2].strip() if header.lower().startswith("bearer ") else None
        return connect(addresses=self.addresses, token=token or None)

    # -- REST transcoding ------------------------------------------------------------------------------
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        for route in self.routes:
            path_values = route.match(request.method, request.path)
            if path_values is not None:
                break
        else:
            return _error(404, f"no route for {request.method} {request.path}", "NOT_FOUND")
        HTTP_REQUESTS.labels(route.template, "dispatched").inc()
        client = self.sdk(request).client(route.service)
        message_class = getattr(client.messages, route.method.input_type.name)
        try:
            if route.client_streaming:
                return await self._client_stream(request, route, client, message_class, path_values)
            body = await request.json() if request.can_read_body and route.body else None
            rpc_request = build_request(route, message_class, path_values, list(request.query.items()), body)
        except (ValueError, json_format.ParseError) as exc:
            return _error(400, str(exc), "INVALID_ARGUMENT")
        call = getattr(client, route.method.name)
        if route.server_streaming:
            return await self._sse(request, lambda: call(rpc_request))
        try:
            reply = await asyncio.to_thread(call, rpc_request)
        except grpc.RpcError as exc:
            return _rpc_error(exc)
        return web.json_response(_to_json(reply))

    async def _client_stream(self, request, route, client, message_class, path_values):
        """Header from the query string (and path), bytes from the body: e.g. POST /v1/quests:submit?campaign=…"""
        header_field = next(f for f in message_class.DESCRIPTOR.fields if f.message_type is not None)
        header_class = header_field.message_type._concrete_class
        header = build_request(
            Route(route.service, route.method, route.verb, route.template, route.regex, (), ""),
            header_class, {}, list(request.query.items()), None,
        )
        for field, value in path_values.items():
            setattr(header, field.split(".")[-1], value)
        payload = await request.read()
        messages = [message_class(**{header_field.name: header})]
        messages += [message_class(chunk=payload[i : i + CHUNK_BYTES]) for i in range(0, len(payload), CHUNK_BYTES)]
        try:
            reply = await asyncio.to_thread(getattr(client, route.method.name), iter(messages))
        except grpc.RpcError as exc:
            return _rpc_error(exc)
        return web.json_response(_to_json(reply))

    async def _sse(self, request: web.Request, start_call, transform=None) -> web.StreamResponse:
        """Relay a server stream as Server-Sent Events; a client that goes away cancels the gRPC call."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(maxsize=256)
        holder: dict[str, Any] = {}

        def pump() -> None:
            try:
                holder["call"] = call = start_call()
                for item in call:
                    asyncio.run_coroutine_threadsafe(queue.put(("item", item)), loop).result()
                asyncio.run_coroutine_threadsafe(queue.put(("end", None)), loop).result()
            except grpc.RpcError as exc:
                asyncio.run_coroutine_threadsafe(queue.put(("error", exc)), loop).result()
            except RuntimeError:  # loop closed while the client went away
                pass

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        kind, first = await queue.get()
        if kind == "error":
            return _rpc_error(first)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        try:
            while kind != "end":
                if kind == "error":
                    payload = {"error": {"status": first.code().name, "message": first.details()}}
                    await response.write(f"event: error\ndata: {json.dumps(payload)}\n\n".encode())
                    break
                data = transform(first) if transform else _to_json(first)
                if data is not None:
                    await response.write(f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode())
                while True:
                    try:
                        kind, first = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                        break
                    except TimeoutError:  # an SSE comment keeps proxies open and detects gone clients
                        await response.write(b": keep-alive\n\n")
            if transform is not None:
                await response.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            call = holder.get("call")
            if call is not None:
                call.cancel()
            raise
        finally:
            call = holder.get("call")
            if call is not None and kind != "end":
                call.cancel()
        return response

    # -- OpenAI-compatible chat ----------------------------------------------------------------------
    def _parameters(self, body: dict, *, max_key: str) -> inference_pb2.GenerationParameters:
        params = inference_pb2.GenerationParameters(
            max_new_tokens=int(body.get(max_key) or 0),
            temperature=float(body.get("temperature") or 0.0),
            top_p=float(body.get("top_p") or 0.0),
            top_k=int(body.get("top_k") or 0),
            repetition_penalty=float(body.get("repetition_penalty") or 0.0),
        )
        stop = body.get("stop")
        if stop:
            params.stop_sequences.extend([stop] if isinstance(stop, str) else list(stop))
        if body.get("seed") is not None:
            params.seed = int(body["seed"])
        return params

    async def openai_chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
            messages = [common_pb2.ChatMessage(role=m["role"], content=m["content"]) for m in body["messages"]]
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, f"messages: expected a list of {{role, content}} ({exc})", "INVALID_ARGUMENT")
        model_id = body.get("model") or self.default_model
        model = model_id if model_id.startswith("models/") else f"models/{model_id}"
        params = self._parameters(body, max_key="max_tokens")
        inference = self.sdk(request).inference
        created = int(time.time())
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if body.get("stream"):
            request_pb = inference_pb2.ChatStreamRequest(model=model, messages=messages, parameters=params)

            def chunk(item):
                if item.HasField("token"):
                    delta, finish = {"content": item.token.text}, None
                else:
                    delta = {}
                    finish = "length" if item.summary.finish_reason == inference_pb2.FINISH_REASON_LENGTH else "stop"
                return {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                        "model": model_id, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

            return await self._sse(request, lambda: inference.ChatStream(request_pb), transform=chunk)
        try:
            reply = await asyncio.to_thread(
                inference.Chat, inference_pb2.ChatRequest(model=model, messages=messages, parameters=params)
            )
        except grpc.RpcError as exc:
            return _rpc_error(exc)
        summary = reply.summary
        return web.json_response({
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model_id,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": reply.message.content},
                "finish_reason": "length" if summary.finish_reason == inference_pb2.FINISH_REASON_LENGTH else "stop",
            }],
            "usage": {"prompt_tokens": summary.prompt_tokens, "completion_tokens": summary.generated_tokens,
                      "total_tokens": summary.prompt_tokens + summary.generated_tokens},
        })

    # -- TGI-compatible generate ---------------------------------------------------------------------
    async def tgi_generate(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
            prompt = str(body["inputs"])
        except (ValueError, KeyError, TypeError):
            return _error(422, "inputs: required", "INVALID_ARGUMENT")
        parameters = body.get("parameters") or {}
        params = self._parameters(parameters, max_key="max_new_tokens")
        params.return_tokens = bool(parameters.get("details"))
        model = request.headers.get("X-Realm-Model") or self.default_model
        inference = self.sdk(request).inference
        if request.path == "/generate_stream" or body.get("stream"):
            request_pb = inference_pb2.GenerateStreamRequest(model=model, prompt=prompt, parameters=params)
            text: list[str] = []

            def event(item):
                if item.HasField("token"):
                    text.append(item.token.text)
                    return {"token": {"id": item.token.id, "text": item.token.text, "logprob": item.token.logprob,
                                      "special": False}, "generated_text": None, "details": None}
                return {"token": {"id": 0, "text": "", "logprob": 0.0, "special": True},
                        "generated_text": item.text or "".join(text),
                        "details": {"finish_reason": _tgi_finish(item.summary.finish_reason),
                                    "generated_tokens": item.summary.generated_tokens, "seed": None}}

            response = await self._sse(request, lambda: inference.GenerateStream(request_pb), transform=event)
            return response
        try:
            reply = await asyncio.to_thread(
                inference.Generate,
                inference_pb2.GenerateRequest(model=model, prompt=prompt, parameters=params),
            )
        except grpc.RpcError as exc:
            return _rpc_error(exc)
        result = {"generated_text": reply.text}
        if parameters.get("details"):
            result["details"] = {
                "finish_reason": _tgi_finish(reply.summary.finish_reason),
                "generated_tokens": reply.summary.generated_tokens,
                "seed": parameters.get("seed"),
                "prefill": [],
                "tokens": [{"id": t.id, "text": t.text, "logprob": t.logprob, "special": False} for t in reply.tokens],
            }
        return web.json_response(result)

    # -- the rest -------------------------------------------------------------------------------------
    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "SERVING"})

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document(self.routes))

    async def tavern(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(TAVERN_DIR / "index.html")


def _tgi_finish(reason: int) -> str:
    return {inference_pb2.FINISH_REASON_LENGTH: "length", inference_pb2.FINISH_REASON_EOS: "eos_token",
            inference_pb2.FINISH_REASON_STOP_SEQUENCE: "stop_sequence"}.get(reason, "length")


def create_app(addresses: dict[str, str], default_model: str = "models/default") -> web.Application:
    gateway = Gateway(addresses, default_model)
    app = web.Application(client_max_size=1 << 30)
    app.router.add_get("/healthz", gateway.healthz)
    app.router.add_get("/metrics", gateway.metrics)
    app.router.add_get("/openapi.json", gateway.openapi)
    app.router.add_get("/", gateway.tavern)
    app.router.add_static("/tavern/", TAVERN_DIR)
    app.router.add_post("/v1/chat/completions", gateway.openai_chat)
    app.router.add_post("/", gateway.tgi_generate)
    app.router.add_post("/generate", gateway.tgi_generate)
    app.router.add_post("/generate_stream", gateway.tgi_generate)
    app.router.add_route("*", "/v1/{tail:.*}", gateway.dispatch)
    app[GATEWAY_KEY] = gateway
    return app


def make_runner(app: web.Application) -> web.AppRunner:
    """Cancel a handler when its client disconnects, so an abandoned stream cancels its gRPC call at once."""
    return web.AppRunner(app, handler_cancellation=True, shutdown_timeout=5.0)
