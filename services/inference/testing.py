"""Test helpers for the inference service: a session-cached tiny hero and a local TGI-protocol server.

`FakeTgiServer` speaks the wire protocol exactly as `text_generation.AsyncClient` uses it (POST `/` with
`{"inputs", "parameters", "stream"}`; a JSON list with `details` when not streaming; server-sent events
`data:{json}` per token when streaming, the last one carrying `generated_text` and `details`), plus TGI's
`/generate` and `/generate_stream` routes. Its "model" spells out `echo: <prompt>` one character per token
(id = code point), then an end-of-sequence token, so tests can predict every byte.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp import web

EOS_ID = 0
MAX_NEW_TOKENS_LIMIT = 512


def build_test_hero(out_dir: Path, **size) -> Path:
    """The project's tiny hero (Qwen3, random init, locally trained tokenizer), built once per directory."""
    from services.trainer.tiny_hero import build_tiny_hero

    if not (Path(out_dir) / "config.json").is_file():
        build_tiny_hero(Path(out_dir), **size)
    return Path(out_dir)


class FakeTgiServer:
    def __init__(self, token_delay_seconds: float = 0.0) -> None:
        self.token_delay_seconds = token_delay_seconds
        self.requests: list[dict] = []
        self.active_streams = 0
        self.disconnects = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FakeTgiServer:
        app = web.Application()
        app.router.add_post("/", self._root)
        app.router.add_post("/generate", self._generate)
        app.router.add_post("/generate_stream", self._generate_stream)
        app.router.add_get("/info", self._info)
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- the fake model ------------------------------------------------------------------------------

    @staticmethod
    def _validate(parameters: dict) -> str | None:
        if parameters.get("max_new_tokens", 20) > MAX_NEW_TOKENS_LIMIT:
            return f"`max_new_tokens` must be <= {MAX_NEW_TOKENS_LIMIT}"
        temperature = parameters.get("temperature")
        if temperature is not None and temperature <= 0:
            return "`temperature` must be strictly positive"
        return None

    @staticmethod
    def _tokens(inputs: str, parameters: dict) -> tuple[list[dict], str, str]:
        """(tokens, generated_text, finish_reason) as TGI would produce them."""
        reply = f"echo: {inputs}"
        tokens: list[dict] = []
        text = ""
        stops = parameters.get("stop") or []
        for char in reply:
            if len(tokens) == parameters.get("max_new_tokens", 20):
                return tokens, text, "length"
            tokens.append({"id": ord(char), "text": char, "logprob": -0.5, "special": False})
            text += char
            if any(text.endswith(stop) for stop in stops):
                return tokens, text, "stop_sequence"
        if len(tokens) == parameters.get("max_new_tokens", 20):
            return tokens, text, "length"
        tokens.append({"id": EOS_ID, "text": "</s>", "logprob": -0.1, "special": True})
        return tokens, text, "eos_token"

    def _details(self, tokens: list[dict], finish: str, parameters: dict, full: bool) -> dict:
        details = {"finish_reason": finish, "generated_tokens": len(tokens), "seed": parameters.get("seed")}
        if full:
            details.update({"prefill": [], "tokens": tokens, "top_tokens": None, "best_of_sequences": None})
        return details

    # -- routes --------------------------------------------------------------------------------------

    async def _root(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("stream"):
            return await self._stream(request, body)
        return await self._unary(body, as_list=True)

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        return await self._unary(await request.json(), as_list=False)

    async def _generate_stream(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, await request.json())

    async def _unary(self, body: dict, *, as_list: bool) -> web.Response:
        self.requests.append(body)
        parameters = body.get("parameters") or {}
        problem = self._validate(parameters)
        if problem:
            return web.json_response({"error": problem, "error_type": "validation"}, status=422)
        tokens, text, finish = self._tokens(body["inputs"], parameters)
        payload = {"generated_text": text,
                   "details": self._details(tokens, finish, parameters, full=bool(parameters.get("details")))}
        return web.json_response([payload] if as_list else payload)

    async def _stream(self, request: web.Request, body: dict) -> web.StreamResponse:
        self.requests.append(body)
        parameters = body.get("parameters") or {}
        problem = self._validate(parameters)
        if problem:
            return web.json_response({"error": problem, "error_type": "validation"}, status=422)
        tokens, text, finish = self._tokens(body["inputs"], parameters)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        self.active_streams += 1
        try:
            for index, token in enumerate(tokens):
                last = index == len(tokens) - 1
                event = {
                    "index": index + 1,
                    "token": token,
                    "top_tokens": None,
                    "generated_text": text if last else None,
                    "details": self._details(tokens, finish, parameters, full=False) if last else None,
                }
                await response.write(f"data:{json.dumps(event)}\n\n".encode())
                if self.token_delay_seconds:
                    await asyncio.sleep(self.token_delay_seconds)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects += 1
            raise
        finally:
            self.active_streams -= 1
        return response

    async def _info(self, request: web.Request) -> web.Response:
        return web.json_response({"model_id": "fake/echo", "model_dtype": "float32", "max_input_tokens": 4096,
                                  "max_total_tokens": 8192, "version": "fake"})

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(status=200)
