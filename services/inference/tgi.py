"""A backend that forwards generation to a text-generation-inference server with its `text-generation` client.

TGI batches on its own side, so this backend only maps parameters and events. Closing the event iterator
closes the HTTP stream, which is how TGI learns that the caller went away.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
from text_generation import AsyncClient
from text_generation import errors as tgi_errors

from services.inference.backend import (
    FINISH_EOS,
    FINISH_LENGTH,
    FINISH_STOP_SEQUENCE,
    Accepted,
    Alternative,
    BackendInfo,
    GenerationEvent,
    Summary,
    TokenEvent,
)
from services.inference.params import SamplingParams
from services.inference.sampling import StreamedText, cut_at_stop
from services.kit.errors import FailedPrecondition, InvalidArgument, ResourceExhausted, Unavailable

_FINISH = {"length": FINISH_LENGTH, "eos_token": FINISH_EOS, "stop_sequence": FINISH_STOP_SEQUENCE}


def tgi_arguments(params: SamplingParams) -> dict:
    """Our parameters in the client's terms (TGI rejects top_p=1 and temperature=0: those mean 'off')."""
    sampling = not params.greedy
    arguments = {
        "max_new_tokens": params.max_new_tokens,
        "do_sample": sampling,
        "temperature": params.temperature if sampling else None,
        "top_p": params.top_p if sampling and params.top_p < 1.0 else None,
        "top_k": params.top_k if sampling and params.top_k > 0 else None,
        "repetition_penalty": params.repetition_penalty if params.repetition_penalty != 1.0 else None,
        "stop_sequences": list(params.stop_sequences),
        "seed": params.seed if sampling else None,
    }
    if params.top_logprobs:
        arguments["top_n_tokens"] = params.top_logprobs
    return arguments


def _domain_error(error: Exception) -> Exception:
    if isinstance(error, tgi_errors.ValidationError | tgi_errors.BadRequestError):
        return InvalidArgument(f"rejected by TGI: {error}", field="parameters")
    if isinstance(error, tgi_errors.OverloadedError | tgi_errors.RateLimitExceededError):
        return ResourceExhausted(f"TGI is overloaded: {error}")
    return Unavailable(f"TGI request failed: {type(error).__name__}: {error}")


class TgiBackend:
    def __init__(self, base_url: str, *, timeout_seconds: int = 60, tokenizer=None) -> None:
        self._base_url = base_url.rstrip("/")
        self._client = AsyncClient(self._base_url, timeout=timeout_seconds)
        # Optional local tokenizer of the served checkpoint, for chat rendering with its own template.
        self._tokenizer = tokenizer
        self._active = 0
        self.info = BackendInfo(
            backend="tgi", device=self._base_url, dtype="", memory_bytes=0, parameter_count=0,
            has_chat_template=bool(tokenizer is not None and getattr(tokenizer, "chat_template", None)),
            is_adapter=False,
        )

    @property
    def active_requests(self) -> int:
        return self._active

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        if not self.info.has_chat_template:
            raise FailedPrecondition("this TGI model was loaded without a local tokenizer, so its chat template "
                                     "is unknown here; use Generate with a rendered prompt", field="model")
        return self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    async def generate_stream(self, prompt: str, params: SamplingParams, *, add_special_tokens: bool = True,
                              on_accepted: Accepted | None = None) -> AsyncIterator[GenerationEvent]:
        # on_accepted is not called: TGI's stream says nothing before its first token (errors come first).
        if not prompt:
            raise InvalidArgument("must not be empty", field="prompt")
        submitted = time.perf_counter()
        first_token_at = 0.0
        generated = 0
        streamed = StreamedText(params.stop_sequences)  # TGI's token texts run past a stop sequence: ours do not
        self._active += 1
        try:
            stream = self._client.generate_stream(prompt, **tgi_arguments(params))
            async for response in stream:
                now = time.perf_counter()
                first_token_at = first_token_at or now
                generated += 1
                token = response.token
                top = tuple(Alternative(id=t.id, text=t.text, logprob=t.logprob if t.logprob is not None else 0.0)
                            for t in (response.top_tokens or ())[:params.top_logprobs])
                piece = "" if token.special else streamed.add(token.text)
                if response.details is not None:
                    # TGI keeps the stop sequence in the text; we cut before it
                    text, matched = cut_at_stop(response.generated_text or "", params.stop_sequences)
                    piece += streamed.finish(text)
                yield TokenEvent(id=token.id, text=piece,
                                 logprob=token.logprob if token.logprob is not None else 0.0, top=top,
                                 special=bool(token.special))
                if response.details is not None:
                    total = now - submitted
                    yield Summary(
                        finish_reason=_FINISH.get(str(getattr(response.details.finish_reason, "value",
                                                              response.details.finish_reason)), FINISH_LENGTH),
                        generated_tokens=response.details.generated_tokens,
                        prompt_tokens=0,  # TGI's stream does not report the prompt length
                        queue_seconds=0.0,
                        time_to_first_token_seconds=first_token_at - submitted,
                        tokens_per_second=generated / total if total > 0 else 0.0,
                        total_seconds=total,
                        text=text,
                        seed=getattr(response.details, "seed", None) if not params.greedy else None,
                        stop_sequence=matched,
                    )
                    return
            raise Unavailable("TGI stream ended without a final message")
        except (tgi_errors.ValidationError, tgi_errors.BadRequestError, tgi_errors.OverloadedError,
                tgi_errors.RateLimitExceededError, tgi_errors.GenerationError, tgi_errors.ShardNotReadyError,
                tgi_errors.ShardTimeoutError, tgi_errors.NotFoundError, tgi_errors.UnknownError,
                tgi_errors.IncompleteGenerationError, aiohttp.ClientError, TimeoutError) as error:
            raise _domain_error(error) from error
        finally:
            self._active -= 1

    async def close(self) -> None:
        return None
