"""The default backend: a checkpoint loaded in-process with plain `from_pretrained`, served by a BatchEngine."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import torch

from services.inference.backend import Accepted, BackendInfo, GenerationEvent, TokenPiece
from services.inference.engine import BatchEngine, EngineConfig
from services.inference.params import GenerationLimits, SamplingParams
from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
QUANTIZATIONS = ("4bit", "8bit")


@dataclass(frozen=True)
class LoadOptions:
    device: str = "cpu"
    dtype: str = "float32"
    quantization: str = ""
    # Where a PEFT adapter's base model is looked up when its recorded base path is relative or missing.
    adapter_base_dir: str = ""


def cuda_available() -> bool:
    return torch.cuda.is_available()


def check_load_options(options: LoadOptions, *, has_cuda: bool) -> None:
    """Refuse combinations this host cannot serve, before touching any file."""
    if options.dtype not in DTYPES:
        raise InvalidArgument(f"unknown dtype {options.dtype!r}; use one of {sorted(DTYPES)}", field="dtype")
    if options.quantization and options.quantization not in QUANTIZATIONS:
        raise InvalidArgument(f"unknown quantization {options.quantization!r}; use 4bit or 8bit",
                              field="quantization")
    if options.quantization and not has_cuda:
        raise FailedPrecondition(f"{options.quantization} quantization needs CUDA (bitsandbytes); this host has none",
                                 field="quantization")
    if options.device.startswith("cuda") and not has_cuda:
        raise FailedPrecondition(f"device {options.device!r} configured but CUDA is not available", field="device")


def _adapter_base(path: Path, options: LoadOptions) -> Path:
    config = json.loads((path / "adapter_config.json").read_text())
    base = config.get("base_model_name_or_path") or ""
    candidates = [Path(base)] if base else []
    if base and not Path(base).is_absolute():
        candidates = [path / base, Path(options.adapter_base_dir or ".") / base]
    for candidate in candidates:
        if (candidate / "config.json").is_file():
            return candidate
    raise FailedPrecondition(f"adapter base model {base!r} is not a local checkpoint directory "
                             "(inference never downloads weights)", field="source")


# from_pretrained builds models on the meta device by patching torch process-wide: two loads in two threads at
# once break each other ("Cannot copy out of meta tensor", or tied weights silently re-initialised). One at a time.
_LOAD_LOCK = threading.Lock()


def load_checkpoint(path: Path, options: LoadOptions, *, has_cuda: bool | None = None):
    """(model, tokenizer, is_adapter) from a local Hugging Face directory; a PEFT adapter directory is applied
    to its (local) base model and merged for speed. Any failure to read it is FailedPrecondition."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    has_cuda = cuda_available() if has_cuda is None else has_cuda
    check_load_options(options, has_cuda=has_cuda)
    if not path.is_dir():
        raise NotFound(f"checkpoint directory {str(path)!r} does not exist", field="source")
    is_adapter = (path / "adapter_config.json").is_file()
    kwargs: dict = {"dtype": DTYPES[options.dtype]}
    if options.quantization:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=options.quantization == "4bit", load_in_8bit=options.quantization == "8bit")
        kwargs["device_map"] = options.device
    try:
        base_path = _adapter_base(path, options) if is_adapter else path
        with _LOAD_LOCK:
            model = AutoModelForCausalLM.from_pretrained(base_path, **kwargs)
        if is_adapter:
            from peft import PeftModel

            with _LOAD_LOCK:
                model = PeftModel.from_pretrained(model, path).merge_and_unload()
        if not options.quantization:
            model = model.to(options.device)
        model.eval()
        tokenizer_path = path if any((path / name).is_file() for name in
                                     ("tokenizer.json", "tokenizer_config.json")) else base_path
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    except (FailedPrecondition, NotFound):
        raise
    except Exception as error:  # a corrupt or incomplete checkpoint: report why, keep serving the rest
        raise FailedPrecondition(f"cannot load checkpoint {str(path)!r}: {type(error).__name__}: {error}",
                                 field="source") from error
    return model, tokenizer, is_adapter


def eos_token_ids(model, tokenizer) -> set[int]:
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(configured)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


class TransformersBackend:
    def __init__(self, model, tokenizer, *, is_adapter: bool, limits: GenerationLimits, engine_config: EngineConfig,
                 model_label: str = "") -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._limits = limits
        parameters = list(model.parameters())
        memory = sum(p.numel() * p.element_size() for p in parameters)
        memory += sum(b.numel() * b.element_size() for b in model.buffers())
        self.info = BackendInfo(
            backend="transformers",
            device=str(parameters[0].device),
            dtype=str(parameters[0].dtype).removeprefix("torch."),
            memory_bytes=memory,
            parameter_count=sum(p.numel() for p in parameters),
            has_chat_template=bool(getattr(tokenizer, "chat_template", None)),
            is_adapter=is_adapter,
        )
        self.engine = BatchEngine(
            model, tokenizer, eos_token_ids=eos_token_ids(model, tokenizer), config=engine_config,
            max_positions=getattr(model.config, "max_position_embeddings", None), model_label=model_label,
        )

    @classmethod
    def load(cls, path: Path, options: LoadOptions, *, limits: GenerationLimits, engine_config: EngineConfig,
             model_label: str = "") -> TransformersBackend:
        model, tokenizer, is_adapter = load_checkpoint(path, options)
        return cls(model, tokenizer, is_adapter=is_adapter, limits=limits, engine_config=engine_config,
                   model_label=model_label)

    @property
    def tokenizer(self):
        return self._tokenizer

    @property
    def model(self):
        return self._model

    @property
    def active_requests(self) -> int:
        return self.engine.running_count + self.engine.waiting_count

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        if not self.info.has_chat_template:
            raise FailedPrecondition("this checkpoint has no chat template; use Generate with a raw prompt",
                                     field="model")
        try:
            return self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as error:  # the template itself rejects the conversation (e.g. role order)
            raise InvalidArgument(f"chat template rejected the messages: {error}", field="messages") from error

    def encode(self, prompt: str, *, add_special_tokens: bool = True) -> list[int]:
        ids = self._tokenizer(prompt, add_special_tokens=add_special_tokens)["input_ids"]
        if not ids:
            raise InvalidArgument("must not be empty", field="prompt")
        if len(ids) > self._limits.max_prompt_tokens:
            raise InvalidArgument(f"{len(ids)} tokens, more than the limit of {self._limits.max_prompt_tokens}",
                                  field="prompt")
        return ids

    def tokenize(self, prompt: str, *, add_special_tokens: bool = True) -> list[TokenPiece]:
        """The prompt's tokens with their character spans (blocking: call it from a worker thread)."""
        encoded = self._tokenizer(prompt, add_special_tokens=add_special_tokens, return_offsets_mapping=True)
        return [TokenPiece(id=token, text=prompt[start:stop] if stop > start else self._tokenizer.decode([token]),
                           start=start, stop=stop)
                for token, (start, stop) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True)]

    async def generate_stream(self, prompt: str, params: SamplingParams, *, add_special_tokens: bool = True,
                              on_accepted: Accepted | None = None) -> AsyncIterator[GenerationEvent]:
        # Tokenising is CPU work proportional to the prompt: off the event loop, so health checks and other
        # requests keep being answered while a long prompt is encoded.
        prompt_ids = await asyncio.to_thread(self.encode, prompt, add_special_tokens=add_special_tokens)
        handle = self.engine.submit(prompt_ids, params)
        events = handle.events()
        try:
            if on_accepted is not None:  # queued: the caller may answer its own client before the first token
                await on_accepted()
            async for event in events:
                yield event
        finally:
            handle.cancel()  # no-op once finished; frees the slot when the caller went away
            await events.aclose()

    async def close(self) -> None:
        await asyncio.to_thread(self.engine.close)
