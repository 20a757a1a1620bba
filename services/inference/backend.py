"""The interface every generation backend (in-process transformers, TGI) offers the model pool."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from services.inference.params import SamplingParams

# Finish reasons, as plain strings in the domain; the servicer maps them to the proto enum.
FINISH_LENGTH = "length"
FINISH_EOS = "eos"
FINISH_STOP_SEQUENCE = "stop_sequence"
FINISH_CANCELLED = "cancelled"


@dataclass(frozen=True)
class Alternative:
    """One of the most likely tokens at a generated position."""

    id: int
    text: str
    logprob: float


@dataclass(frozen=True)
class TokenEvent:
    id: int
    text: str
    logprob: float
    # The most likely tokens at this position, best first (SamplingParams.top_logprobs of them).
    top: tuple[Alternative, ...] = ()
    special: bool = False


@dataclass(frozen=True)
class TokenPiece:
    """One token of a tokenised prompt, with its character span in the prompt."""

    id: int
    text: str
    start: int
    stop: int


@dataclass(frozen=True)
class Summary:
    finish_reason: str
    generated_tokens: int
    prompt_tokens: int
    queue_seconds: float
    time_to_first_token_seconds: float
    tokens_per_second: float
    total_seconds: float
    # The whole generated text (without special tokens, cut before a matched stop sequence).
    text: str
    # The seed sampling drew from (the request's or one drawn for it); None for greedy decoding.
    seed: int | None = None
    stop_sequence: str = ""
    # Which model and checkpoint served the request; filled in by the pool.
    model: str = ""
    asset: str = ""
    source: str = ""


GenerationEvent = TokenEvent | Summary


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: list[TokenEvent]
    summary: Summary


@dataclass(frozen=True)
class BackendInfo:
    backend: str  # "transformers" | "tgi"
    device: str
    dtype: str
    memory_bytes: int
    parameter_count: int
    has_chat_template: bool
    is_adapter: bool


# Awaited by a backend once it has accepted a request (queued it), before the first token.
Accepted = Callable[[], Awaitable[None]]


class Backend(Protocol):
    info: BackendInfo

    @property
    def active_requests(self) -> int: ...

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """The prompt for `messages`, rendered with the checkpoint's own chat template."""

    def generate_stream(self, prompt: str, params: SamplingParams, *, add_special_tokens: bool = True,
                        on_accepted: Accepted | None = None) -> AsyncIterator[GenerationEvent]:
        """Token events, then exactly one Summary. Closing the iterator early cancels the request.
        `add_special_tokens` is False for prompts already rendered by a chat template. `on_accepted` is awaited
        once the request is queued, before its first token, by backends that know that moment."""

    async def close(self) -> None: ...


async def collect(events: AsyncIterator[GenerationEvent]) -> Completion:
    """Drain a stream into one completion (closing it on the way out, so an abandoned call cancels)."""
    tokens: list[TokenEvent] = []
    summary: Summary | None = None
    async with contextlib.aclosing(events) as stream:
        async for event in stream:
            if isinstance(event, TokenEvent):
                tokens.append(event)
            else:
                summary = event
    if summary is None:
        raise RuntimeError("generation stream ended without a summary")
    return Completion(text=summary.text, tokens=tokens, summary=summary)
