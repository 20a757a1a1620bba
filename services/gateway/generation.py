"""What the OpenAI and TGI surfaces share: checked request fields, model names, and one generation run.

Every generation goes through the inference service's streaming RPCs (tokens always carry their logprobs there),
so unary and streaming answers, `n` choices and logprobs have one code path. Streamed text is held back while it
could still be the start of a stop sequence, so the pieces a client receives join to exactly the final text.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc

from realm.inference.v1 import inference_pb2 as ipb
from realm.sdk.inference import ACCEPTED_METADATA_KEY
from services.gateway.config import GatewayConfig
from services.gateway.edge import Metrics
from services.gateway.errors import HttpError, rpc_failure
from services.gateway.sse import UpstreamStream, is_end

MAX_STOP_SEQUENCES = 16
MAX_CHOICES = 16


class Fields:
    """Typed access to a JSON request object; every error names the field (OpenAI's `param`)."""

    def __init__(self, body: Mapping[str, Any], *, prefix: str = "") -> None:
        self.body = body
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def _fail(self, key: str, expected: str) -> HttpError:
        value = self.body.get(key)
        shown = repr(value) if len(repr(value)) < 60 else type(value).__name__
        return HttpError(400, f"{self._name(key)}: expected {expected}, got {shown}", field=self._name(key))

    def number(self, key: str, *, low: float, high: float, low_open: bool = False, high_open: bool = False,
               default: float | None = None) -> float | None:
        value = self.body.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self._fail(key, "a number")
        if (value <= low if low_open else value < low) or (value >= high if high_open else value > high):
            raise self._fail(key, f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}")
        return float(value)

    def integer(self, key: str, *, low: int, high: int, default: int | None = None) -> int | None:
        value = self.body.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._fail(key, f"an integer in [{low}, {high}]")
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.body.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.body.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def stops(self, key: str) -> list[str]:
        value = self.body.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if (not isinstance(value, list) or len(value) > MAX_STOP_SEQUENCES
                or not all(isinstance(s, str) and s for s in value)):
            raise self._fail(key, f"a non-empty string or a list of at most {MAX_STOP_SEQUENCES} of them")
        return value

    def mapping(self, key: str) -> Fields:
        value = self.body.get(key)
        if value is None:
            return Fields({}, prefix=f"{self._name(key)}.")
        if not isinstance(value, dict):
            raise self._fail(key, "an object")
        return Fields(value, prefix=f"{self._name(key)}.")


def model_name(config: GatewayConfig, model_id: str | None) -> str:
    """An OpenAI/TGI model id as the inference service names it; the HF clients' placeholders mean the default."""
    model_id = (model_id or "").strip()
    if model_id in config.default_aliases:
        return config.default_model
    return model_id if model_id.startswith("models/") else f"models/{model_id}"


def public_id(name: str) -> str:
    return name[len("models/"):] if name.startswith("models/") else name


@dataclass
class Choice:
    """One generation as it arrives: tokens, the text released so far, and the final summary."""

    index: int
    stops: tuple[str, ...] = ()
    tokens: list[ipb.Token] = field(default_factory=list)
    text: str = ""  # everything the tokens spelled so far
    released: int = 0  # how much of `text` has been handed to the client
    summary: ipb.GenerationSummary | None = None
    final_text: str | None = None

    def add_token(self, token: ipb.Token) -> str:
        """Append a token; returns the text that is now safe to release."""
        self.tokens.append(token)
        self.text += token.text
        limit = len(self.text)
        for stop in self.stops:
            at = self.text.find(stop, max(0, self.released - len(stop)))
            if at != -1:
                limit = min(limit, at)
            else:  # hold back a tail that could still grow into this stop sequence
                for size in range(min(len(stop) - 1, len(self.text)), 0, -1):
                    if stop.startswith(self.text[-size:]):
                        limit = min(limit, len(self.text) - size)
                        break
        return self._release(limit)

    def finish(self, item) -> str:
        """The final message: returns whatever of the final text was not released yet."""
        self.summary = item.summary
        self.final_text = item.text  # the whole text, already cut at a stop sequence by the service
        rest = self.final_text[self.released:] if self.final_text.startswith(self.text[: self.released]) else ""
        self.released = len(self.final_text)
        return rest

    def _release(self, limit: int) -> str:
        if limit <= self.released:
            return ""
        piece = self.text[self.released:limit]
        self.released = limit
        return piece


def parameters(*, max_new_tokens: int | None, temperature: float | None, top_p: float | None, top_k: int | None,
               repetition_penalty: float | None, stops: list[str], seed: int | None,
               top_logprobs: int) -> ipb.GenerationParameters:
    params = ipb.GenerationParameters(
        max_new_tokens=max_new_tokens or 0, temperature=temperature or 0.0, top_p=top_p or 0.0, top_k=top_k or 0,
        repetition_penalty=repetition_penalty or 0.0, stop_sequences=stops, top_logprobs=top_logprobs,
        return_tokens=True)
    if seed is not None:
        params.seed = seed
    return params


def choice_seed(params: ipb.GenerationParameters, index: int) -> ipb.GenerationParameters:
    """n choices with one seed would all be the same sample: choice i samples with seed + i."""
    if index == 0 or not params.HasField("seed"):
        return params
    copy = ipb.GenerationParameters()
    copy.CopyFrom(params)
    copy.seed = (params.seed + index) % (1 << 63)
    return copy


async def open_streams(calls: list, metrics: Metrics, route: str, *, headers_within: float | None = None
                       ) -> tuple[list[UpstreamStream], list]:
    """Start every choice's stream and wait for each one's first message, so a failure that comes at once (unknown
    model, full queue, bad prompt) is an HTTP status and not a broken stream.

    `headers_within` (streamed answers): stop waiting for a stream once the inference service has accepted its
    request (its response headers say `x-realm-accepted`), or after that many seconds in all; its first message is
    then None (not read yet), and a later failure goes into the stream. Leaving early (the client went away)
    cancels every call."""
    streams = [UpstreamStream(call, metrics, route) for call in calls]
    firsts = []
    loop = asyncio.get_running_loop()
    deadline = None if headers_within is None else loop.time() + headers_within
    try:
        for stream in streams:
            first = await stream.next(None) if deadline is None else await _first_or_accepted(stream, deadline)
            if isinstance(first, grpc.RpcError):
                raise rpc_failure(first)
            if is_end(first):
                raise HttpError(502, "the inference service ended the stream without an answer",
                                code=grpc.StatusCode.UNAVAILABLE)
            firsts.append(first)
    except BaseException:
        for stream in streams:
            stream.close()
        raise
    return streams, firsts


async def _accepted(call) -> bool:
    """Whether the call's response headers say the request was accepted (they come with the first message or
    the error when the service sends none before)."""
    try:
        metadata = await call.initial_metadata()
    except grpc.RpcError:
        return False
    return any(key == ACCEPTED_METADATA_KEY for key, _ in metadata or ())


async def _first_or_accepted(stream: UpstreamStream, deadline: float):
    """The stream's first message, or None once its request is accepted or the deadline has passed."""
    loop = asyncio.get_running_loop()
    first = asyncio.ensure_future(stream.next(None))
    accepted = asyncio.ensure_future(_accepted(stream.call))
    waiting = {first, accepted}
    try:
        while True:
            done, _ = await asyncio.wait(waiting, timeout=max(0.0, deadline - loop.time()),
                                         return_when=asyncio.FIRST_COMPLETED)
            if first.done():
                return first.result()
            if not done or accepted.result():
                return None  # first stays unread in the stream's queue (cancelling a queue get loses nothing)
            waiting.discard(accepted)  # headers without the mark: wait for the first message itself
    finally:
        for task in (first, accepted):
            task.cancel()


async def collect(stream: UpstreamStream, first, choice: Choice) -> Choice:
    """Read one stream to its end into `choice` (unary answers)."""
    item = first
    while True:
        if item.HasField("token"):
            choice.add_token(item.token)
        else:
            choice.finish(item)
            return choice
        item = await stream.next(None)
        if isinstance(item, grpc.RpcError):
            raise rpc_failure(item)
        if is_end(item):
            raise HttpError(502, "the inference service ended the stream before its summary",
                            code=grpc.StatusCode.UNAVAILABLE)


def ignored_fields(body: Mapping[str, Any], known: frozenset[str]) -> list[str]:
    """Fields the gateway does not act on (an explicit null or false asks for nothing, so it is not listed)."""
    return sorted(k for k, v in body.items() if k not in known and v is not None and v is not False)
