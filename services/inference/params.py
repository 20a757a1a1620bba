"""Generation parameters: validated once, at the edge of the domain, with errors naming the field."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from services.kit.errors import InvalidArgument

MAX_STOP_SEQUENCES = 8
MAX_STOP_SEQUENCE_CHARS = 200
MAX_TOP_LOGPROBS = 20
CHAT_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class GenerationLimits:
    """Service-wide limits from config (`inference.limits`)."""

    default_max_new_tokens: int = 128
    max_new_tokens: int = 2048
    max_prompt_tokens: int = 4096
    # Checked before tokenising, so an oversized prompt costs nothing: UTF-8 bytes of a prompt, or of all the
    # message contents of a chat together.
    max_prompt_bytes: int = 256 * 1024
    max_chat_messages: int = 1024

    @classmethod
    def from_section(cls, section: dict) -> GenerationLimits:
        names = ("default_max_new_tokens", "max_new_tokens", "max_prompt_tokens", "max_prompt_bytes",
                 "max_chat_messages")
        unknown = sorted(set(section) - set(names))
        if unknown:
            raise InvalidArgument(f"unknown key; known keys are {list(names)}", field=f"inference.limits.{unknown[0]}")
        values = {}
        for name in names:
            value = section.get(name, getattr(cls, name))
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InvalidArgument(f"must be an integer > 0, got {value!r}", field=f"inference.limits.{name}")
            values[name] = value
        limits = cls(**values)
        if limits.default_max_new_tokens > limits.max_new_tokens:
            raise InvalidArgument("must be <= max_new_tokens", field="inference.limits.default_max_new_tokens")
        return limits


@dataclass(frozen=True)
class SamplingParams:
    """What one request asks of the decoder. temperature 0 means greedy; 0/1 disable top_p and penalties."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    stop_sequences: tuple[str, ...] = field(default_factory=tuple)
    seed: int | None = None
    # How many most likely alternatives to report with every generated token (0 = none).
    top_logprobs: int = 0
    # Idle-task work: only spare batch slots, preempted by interactive requests (services/inference/priority.py).
    background: bool = False

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @classmethod
    def build(
        cls,
        limits: GenerationLimits,
        *,
        max_new_tokens: int = 0,
        temperature: float = 0.0,
        top_p: float = 0.0,
        top_k: int = 0,
        repetition_penalty: float = 0.0,
        stop_sequences: list[str] | tuple[str, ...] = (),
        seed: int | None = None,
        top_logprobs: int = 0,
        background: bool = False,
    ) -> SamplingParams:
        """Validate raw request values (proto defaults: 0 = "use the default / disabled")."""
        prefix = "parameters."
        if max_new_tokens < 0:
            raise InvalidArgument("must be >= 0", field=prefix + "max_new_tokens")
        if max_new_tokens > limits.max_new_tokens:
            raise InvalidArgument(f"must be <= {limits.max_new_tokens}", field=prefix + "max_new_tokens")
        for name, value in (("temperature", temperature), ("top_p", top_p),
                            ("repetition_penalty", repetition_penalty)):
            if not math.isfinite(value):
                raise InvalidArgument("must be a finite number", field=prefix + name)
        if temperature < 0 or temperature > 100:
            raise InvalidArgument("must be in [0, 100]", field=prefix + "temperature")
        if top_p < 0 or top_p > 1:
            raise InvalidArgument("must be in [0, 1]", field=prefix + "top_p")
        if top_k < 0:
            raise InvalidArgument("must be >= 0", field=prefix + "top_k")
        if repetition_penalty < 0 or repetition_penalty > 100:
            raise InvalidArgument("must be in [0, 100]", field=prefix + "repetition_penalty")
        if len(stop_sequences) > MAX_STOP_SEQUENCES:
            raise InvalidArgument(f"at most {MAX_STOP_SEQUENCES} allowed", field=prefix + "stop_sequences")
        for index, stop in enumerate(stop_sequences):
            if not stop:
                raise InvalidArgument("must not be empty", field=f"{prefix}stop_sequences[{index}]")
            if len(stop) > MAX_STOP_SEQUENCE_CHARS:
                raise InvalidArgument(f"longer than {MAX_STOP_SEQUENCE_CHARS} characters",
                                      field=f"{prefix}stop_sequences[{index}]")
        if seed is not None and not 0 <= seed < 2**63:
            raise InvalidArgument("must be in [0, 2^63)", field=prefix + "seed")
        if not 0 <= top_logprobs <= MAX_TOP_LOGPROBS:
            raise InvalidArgument(f"must be in [0, {MAX_TOP_LOGPROBS}]", field=prefix + "top_logprobs")
        return cls(
            max_new_tokens=max_new_tokens or limits.default_max_new_tokens,
            temperature=float(temperature),
            top_p=float(top_p) if 0 < top_p < 1 else 1.0,
            top_k=int(top_k),
            repetition_penalty=float(repetition_penalty) if repetition_penalty not in (0.0, 1.0) else 1.0,
            stop_sequences=tuple(stop_sequences),
            seed=seed,
            top_logprobs=int(top_logprobs),
            background=bool(background),
        )


def check_prompt(prompt: str, limits: GenerationLimits, field: str = "prompt") -> None:
    """Refuse an oversized prompt before anything tokenises it."""
    # len() first: a str of n characters is at least n bytes, so a huge prompt is refused without encoding it.
    if len(prompt) > limits.max_prompt_bytes or len(prompt.encode("utf-8", "surrogatepass")) > limits.max_prompt_bytes:
        raise InvalidArgument(f"{len(prompt.encode('utf-8', 'surrogatepass'))} bytes, more than the limit of "
                              f"{limits.max_prompt_bytes}", field=field)


def check_messages(messages: list[dict[str, str]], limits: GenerationLimits) -> None:
    """Chat messages: not empty, known roles, and within the count and byte limits, before rendering."""
    if not messages:
        raise InvalidArgument("must not be empty", field="messages")
    if len(messages) > limits.max_chat_messages:
        raise InvalidArgument(f"at most {limits.max_chat_messages} messages", field="messages")
    for index, message in enumerate(messages):
        if message.get("role") not in CHAT_ROLES:
            raise InvalidArgument("role must be system, user or assistant", field=f"messages[{index}].role")
    total = sum(len(m.get("content", "").encode("utf-8", "surrogatepass")) for m in messages)
    if total > limits.max_prompt_bytes:
        raise InvalidArgument(f"message contents together are {total} bytes, more than the limit of "
                              f"{limits.max_prompt_bytes}", field="messages")
