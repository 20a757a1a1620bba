"""Generation parameters: validated once, at the edge of the domain, with errors naming the field."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from services.kit.errors import InvalidArgument

MAX_STOP_SEQUENCES = 8
MAX_STOP_SEQUENCE_CHARS = 200


@dataclass(frozen=True)
class GenerationLimits:
    """Service-wide limits from config (`inference.limits`)."""

    default_max_new_tokens: int = 128
    max_new_tokens: int = 2048
    max_prompt_tokens: int = 4096

    @classmethod
    def from_section(cls, section: dict) -> GenerationLimits:
        limits = cls(
            default_max_new_tokens=int(section.get("default_max_new_tokens", cls.default_max_new_tokens)),
            max_new_tokens=int(section.get("max_new_tokens", cls.max_new_tokens)),
            max_prompt_tokens=int(section.get("max_prompt_tokens", cls.max_prompt_tokens)),
        )
        for name in ("default_max_new_tokens", "max_new_tokens", "max_prompt_tokens"):
            if getattr(limits, name) <= 0:
                raise InvalidArgument("must be > 0", field=f"inference.limits.{name}")
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
        return cls(
            max_new_tokens=max_new_tokens or limits.default_max_new_tokens,
            temperature=float(temperature),
            top_p=float(top_p) if 0 < top_p < 1 else 1.0,
            top_k=int(top_k),
            repetition_penalty=float(repetition_penalty) if repetition_penalty not in (0.0, 1.0) else 1.0,
            stop_sequences=tuple(stop_sequences),
            seed=seed,
        )
