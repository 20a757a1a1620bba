"""OpenAI-compatible HTTP at /v1: models, chat/completions, completions (so `base_url=http://host:port/v1` works).

Shapes follow OpenAI's API reference: `n` choices, `stop`, `seed`, `temperature`/`top_p`, `max_tokens` and
`max_completion_tokens`, `logprobs`/`top_logprobs`, `stream` with `data: ` frames, role chunk first and an
empty-delta finish chunk per choice, `stream_options.include_usage` (one usage chunk with empty `choices` before
`data: [DONE]`, `usage: null` on every other chunk), errors as `{"error": {message, type, param, code}}` with
`x-should-retry`, a failure after the stream started as `data: {"error": …}`. Unknown request fields are
accepted, logged and listed in `x-realm-ignored-fields`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import grpc
from aiohttp import web

from realm.common.v1 import common_pb2
from realm.inference.v1 import inference_pb2 as ipb
from realm.sdk.aio import AsyncRealm
from services.gateway import errors
from services.gateway.config import GatewayConfig
from services.gateway.edge import CALLER_KEY, REQUEST_ID_KEY, Metrics, log, read_json
from services.gateway.errors import HttpError, rpc_failure
from services.gateway.generation import (
    MAX_CHOICES,
    Choice,
    Fields,
    choice_seed,
    collect,
    ignored_fields,
    model_name,
    open_streams,
    parameters,
    public_id,
)
from services.gateway.sse import SseWriter, is_end

COMMON = frozenset({"model", "n", "stop", "seed", "temperature", "top_p", "max_tokens", "stream", "stream_options",
                    "logprobs", "top_k", "repetition_penalty", "user"})
CHAT_FIELDS = COMMON | {"messages", "max_completion_tokens", "top_logprobs"}
COMPLETION_FIELDS = COMMON | {"prompt", "echo"}
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
FINISH = {ipb.FINISH_REASON_LENGTH: "length"}


@dataclass
class Ask:
    model_id: str
    model: str
    n: int
    params: ipb.GenerationParameters
    logprobs: bool
    top_logprobs: int
    stream: bool
    include_usage: bool
    ignored: list[str]


def _ask(config: GatewayConfig, body: dict, known: frozenset[str], *, chat: bool) -> Ask:
    fields = Fields(body)
    model_id = fields.string("model", "") or ""
    if chat:
        logprobs = fields.boolean("logprobs")
        top = fields.integer("top_logprobs", low=0, high=20, default=0)
        if top and not logprobs:
            raise HttpError(400, "top_logprobs: needs logprobs: true", field="top_logprobs")
        max_tokens = fields.integer("max_completion_tokens", low=1, high=1 << 20)
        if max_tokens is None:
            max_tokens = fields.integer("max_tokens", low=1, high=1 << 20)
    else:
        top = fields.integer("logprobs", low=0, high=20)
        logprobs, top = top is not None, top or 0
        max_tokens = fields.integer("max_tokens", low=1, high=1 << 20)
    stream = fields.boolean("stream")
    options = fields.mapping("stream_options")
    if options.body and not stream:
        raise HttpError(400, "stream_options: only allowed with stream: true", field="stream_options")
    params = parameters(
        max_new_tokens=max_tokens, temperature=fields.number("temperature", low=0, high=2),
        top_p=fields.number("top_p", low=0, high=1), top_k=fields.integer("top_k", low=-1, high=1 << 20),
        repetition_penalty=fields.number("repetition_penalty", low=0, high=10, low_open=True),
        stops=fields.stops("stop"), seed=fields.integer("seed", low=-(1 << 63), high=(1 << 63) - 1),
        top_logprobs=top)
    if params.top_k < 0:
        params.top_k = 0
    return Ask(model_id or "default", model_name(config, model_id), fields.integer("n", low=1, high=MAX_CHOICES,
                                                                                   default=1),
               params, logprobs, top, stream, options.boolean("include_usage"), ignored_fields(body, known))


def _messages(body: dict) -> list[common_pb2.ChatMessage]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise HttpError(400, "messages: expected a non-empty list of {role, content}", field="messages")
    out = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise HttpError(400, f"{where}: expected an object", field=where)
        role = message.get("role")
        if role not in ROLES:
            raise HttpError(400, f"{where}.role: expected one of {', '.join(ROLES)}, got {role!r}",
                            field=f"{where}.role")
        content = message.get("content")
        if isinstance(content, list):
            if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                       for p in content):
                raise HttpError(400, f"{where}.content: only text parts are supported", field=f"{where}.content")
            content = "".join(p["text"] for p in content)
        if content is None and role == "assistant":
            content = ""
        if not isinstance(content, str):
            raise HttpError(400, f"{where}.content: expected a string or a list of text parts",
                            field=f"{where}.content")
        out.append(common_pb2.ChatMessage(role=ROLES[role], content=content))
    return out


def _prompts(body: dict) -> list[str]:
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise HttpError(400, "prompt: expected a string or a non-empty list of strings (token ids are not "
                             "supported)", field="prompt")
    return prompts


def _finish(choice: Choice) -> str:
    return FINISH.get(choice.summary.finish_reason, "stop") if choice.summary else "stop"


def _token_logprob(token: ipb.Token, top: int) -> dict:
    return {"token": token.text, "logprob": token.logprob, "bytes": list(token.text.encode()),
            "top_logprobs": [{"token": t.text, "logprob": t.logprob, "bytes": list(t.text.encode())}
                             for t in token.top_logprobs[:top]]}


def _completion_logprobs(tokens: list[ipb.Token], top: int, offset: int) -> dict:
    offsets, position = [], offset
    for token in tokens:
        offsets.append(position)
        position += len(token.text)
    return {"tokens": [t.text for t in tokens], "token_logprobs": [t.logprob for t in tokens],
            "top_logprobs": [{x.text: x.logprob for x in t.top_logprobs[:top]} for t in tokens],
            "text_offset": offsets}


def _usage(choices: list[Choice], n: int) -> dict:
    prompt = sum(c.summary.prompt_tokens for c in choices if c.summary and c.index % n == 0)
    completion = sum(c.summary.generated_tokens for c in choices if c.summary)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class OpenAIRoutes:
    def __init__(self, config: GatewayConfig, realm: AsyncRealm, metrics: Metrics) -> None:
        self.config = config
        self.realm = realm
        self.metrics = metrics

    def _inference(self, request: web.Request):
        caller = request[CALLER_KEY]
        return self.realm.for_token(caller.token, request_id=request[REQUEST_ID_KEY]).inference

    @staticmethod
    def _model_card(model: ipb.Model) -> dict:
        return {"id": public_id(model.name), "object": "model",
                "created": model.load_time.seconds if model.HasField("load_time") else 0, "owned_by": "realm",
                "checkpoint": model.asset or None, "parent": model.parent or None, "root": model.source,
                "state": ipb.ModelState.Name(model.state), "followed_alias": model.followed_alias or None,
                "pinned": model.pinned}

    async def list_models(self, request: web.Request) -> web.Response:
        inference, models, token = self._inference(request), [], ""
        while True:
            try:
                page = await inference.ListModels(ipb.ListModelsRequest(page_size=100, page_token=token))
            except grpc.RpcError as exc:
                raise rpc_failure(exc) from None
            models.extend(page.models)
            token = page.next_page_token
            if not token:
                break
        return web.json_response({"object": "list", "data": [self._model_card(m) for m in models]})

    async def get_model(self, request: web.Request) -> web.Response:
        name = model_name(self.config, request.match_info["model"])
        try:
            reply = await self._inference(request).GetModel(ipb.GetModelRequest(name=name))
        except grpc.RpcError as exc:
            raise rpc_failure(exc) from None
        return web.json_response(self._model_card(reply.model))

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        ask = _ask(self.config, body, CHAT_FIELDS, chat=True)
        messages = _messages(body)
        inference = self._inference(request)
        calls = [inference.ChatStream(ipb.ChatStreamRequest(model=ask.model, messages=messages,
                                                            parameters=choice_seed(ask.params, i)))
                 for i in range(ask.n)]
        return await self._answer(request, ask, calls, chat=True, prompts=[""])

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        ask = _ask(self.config, body, COMPLETION_FIELDS, chat=False)
        prompts = _prompts(body)
        echo = Fields(body).boolean("echo")
        inference = self._inference(request)
        calls = [inference.GenerateStream(ipb.GenerateStreamRequest(model=ask.model, prompt=prompt,
                                                                    parameters=choice_seed(ask.params, j)))
                 for prompt in prompts for j in range(ask.n)]
        return await self._answer(request, ask, calls, chat=False, prompts=prompts if echo else [""] * len(prompts))

    async def _body(self, request: web.Request) -> dict:
        body = await read_json(request, self.config, self.config.limits.generation_bytes, allow_empty=False)
        if not isinstance(body, dict):
            raise HttpError(400, f"request body: expected a JSON object, got {type(body).__name__}", field="body")
        return body

    async def _answer(self, request, ask: Ask, calls, *, chat: bool, prompts: list[str]) -> web.StreamResponse:
        label = request.match_info.route.resource.canonical
        if ask.ignored:
            log.warning("openai fields ignored", fields=ask.ignored, path=request.path)
        streams, firsts = await open_streams(
            calls, self.metrics, label, headers_within=self.config.stream_headers_seconds if ask.stream else None)
        choices = [Choice(i, tuple(ask.params.stop_sequences)) for i in range(len(calls))]
        meta = {"id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}", "created": int(time.time()),
                "model": ask.model_id, "system_fingerprint": "realm"}
        try:
            if ask.stream:
                return await self._stream(request, ask, streams, firsts, choices, meta, chat=chat, prompts=prompts)
            for stream, first, choice in zip(streams, firsts, choices, strict=True):
                await collect(stream, first, choice)
        finally:
            for stream in streams:
                stream.close()
        answer = {**meta, "object": "chat.completion" if chat else "text_completion",
                  "choices": [self._choice(c, ask, chat, prompts[c.index // ask.n]) for c in choices],
                  "usage": _usage(choices, ask.n)}
        response = web.json_response(answer)
        summary = choices[0].summary
        if summary is not None:  # provenance: which checkpoint really answered
            response.headers["x-realm-served-model"] = summary.model
            response.headers["x-realm-served-asset"] = summary.asset
        if ask.ignored:
            response.headers["x-realm-ignored-fields"] = ",".join(ask.ignored)
        return response

    def _choice(self, choice: Choice, ask: Ask, chat: bool, echo: str) -> dict:
        if chat:
            logprobs = ({"content": [_token_logprob(t, ask.top_logprobs) for t in choice.tokens]}
                        if ask.logprobs else None)
            return {"index": choice.index, "message": {"role": "assistant", "content": choice.final_text},
                    "logprobs": logprobs, "finish_reason": _finish(choice)}
        logprobs = _completion_logprobs(choice.tokens, ask.top_logprobs, len(echo)) if ask.logprobs else None
        return {"index": choice.index, "text": echo + (choice.final_text or ""), "logprobs": logprobs,
                "finish_reason": _finish(choice)}

    async def _stream(self, request, ask: Ask, streams, firsts, choices, meta, *, chat: bool,
                      prompts: list[str]) -> web.StreamResponse:
        label = request.match_info.route.resource.canonical
        writer = SseWriter(request, self.metrics, label)
        if ask.ignored:
            writer.response.headers["x-realm-ignored-fields"] = ",".join(ask.ignored)
        kind = "chat.completion.chunk" if chat else "text_completion"

        def chunk(parts: list[dict]) -> dict:
            data = {**meta, "object": kind, "choices": parts}
            if ask.include_usage:
                data["usage"] = None
            return data

        def part(choice: Choice, text: str | None, tokens: list, finish: str | None) -> dict:
            if chat:
                delta = {} if text is None else {"content": text}
                logprobs = {"content": [_token_logprob(t, ask.top_logprobs) for t in tokens]} if tokens else None
                return {"index": choice.index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
            offset = len(prompts[choice.index // ask.n]) + choice.released - len(text or "")
            logprobs = _completion_logprobs(tokens, ask.top_logprobs, offset) if tokens else None
            return {"index": choice.index, "text": text or "", "logprobs": logprobs, "finish_reason": finish}

        async def handle(choice: Choice, item) -> bool:
            if item.HasField("token"):
                piece = choice.add_token(item.token)
                tokens = [item.token] if ask.logprobs else []
                if piece or tokens:
                    await writer.event(chunk([part(choice, piece, tokens, None)]))
                return False
            rest = choice.finish(item)
            if rest:
                await writer.event(chunk([part(choice, rest, [], None)]))
            await writer.event(chunk([part(choice, None if chat else "", [], _finish(choice))]))
            return True

        await writer.open()
        pending: dict[asyncio.Future, int] = {}
        try:
            for choice in choices:
                opening = {"role": "assistant", "content": ""} if chat else None
                if chat:
                    await writer.event(chunk([{"index": choice.index, "delta": opening, "logprobs": None,
                                               "finish_reason": None}]))
                elif prompts[choice.index // ask.n]:
                    await writer.event(chunk([part(choice, prompts[choice.index // ask.n], [], None)]))
            for choice, first in zip(choices, firsts, strict=True):
                if first is None or not await handle(choice, first):  # None: accepted, no token yet
                    pending[asyncio.ensure_future(streams[choice.index].next(None))] = choice.index
            while pending:
                done, _ = await asyncio.wait(pending, timeout=self.config.heartbeat_seconds,
                                             return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    await writer.comment()
                for future in done:
                    index = pending.pop(future)
                    item = future.result()
                    if is_end(item):
                        raise HttpError(502, "the inference service ended a stream before its summary")
                    if isinstance(item, grpc.RpcError):
                        raise rpc_failure(item)
                    if not await handle(choices[index], item):
                        pending[asyncio.ensure_future(streams[index].next(None))] = index
            if ask.include_usage:
                await writer.event({**meta, "object": kind, "choices": [], "usage": _usage(choices, ask.n)})
            await writer.event("[DONE]")
        except HttpError as error:
            await writer.event(errors.openai_body(error))
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            for future in pending:
                future.cancel()
            writer.close()
        return writer.response
