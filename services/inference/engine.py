"""Continuous batching over one in-process transformers model.

One worker thread owns the model. Between decoding steps it drops cancelled sequences, admits waiting
requests (each prefilled alone, so its prompt sees no padding), and merges their KV caches into the running
batch by left-padding every row to the longest one; the padded positions are zero keys/values hidden by the
attention mask, and each row gets its own `position_ids`, so a row computes what it would compute alone.
Finished rows are removed from the cache (and leading all-padding columns trimmed) at once, so a cancelled
request stops costing anything within one step.

Requests and events cross between asyncio and the worker thread: `submit` is called on the event loop, and
the worker hands events back with `loop.call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import structlog
import torch
from transformers import DynamicCache

from services.inference import metrics
from services.inference.backend import (
    FINISH_CANCELLED,
    FINISH_EOS,
    FINISH_LENGTH,
    FINISH_STOP_SEQUENCE,
    Alternative,
    GenerationEvent,
    Summary,
    TokenEvent,
)
from services.inference.params import SamplingParams
from services.inference.priority import Activity, Preempted, plan_admissions
from services.inference.sampling import RowSampler, StreamedText
from services.kit.errors import FailedPrecondition, InvalidArgument, ResourceExhausted, Unavailable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class EngineConfig:
    max_batch_size: int = 16
    max_queue: int = 64
    # Streamed tokens reach the event loop at most this often (first tokens and summaries at once).
    stream_interval_seconds: float = 0.01
    # Interactive-first admission and the host's background counters (shared by every engine of a pool).
    activity: Activity | None = None


class GenerationFailed(Unavailable):
    """The engine could not finish this request (the batch it was in failed); the model keeps serving."""


class _EventSink:
    """Where one request's events go: an asyncio queue on the loop that submitted it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[GenerationEvent | GenerationFailed] = asyncio.Queue()


def _deliver(batch: list[tuple[asyncio.Queue, object]]) -> None:
    for queue, event in batch:
        queue.put_nowait(event)


class _Outbox:
    """Events produced by the worker thread, handed to each event loop at most once per step — and, between
    first tokens and summaries, at most once per `interval`: every wake-up of the loop costs the worker a GIL
    hand-off, which on a small model is a sizeable share of a decoding step. A first token, a final summary or
    a failure is handed over at once, so time to first token and completion are never delayed."""

    def __init__(self, interval: float = 0.0) -> None:
        self._pending: dict[asyncio.AbstractEventLoop, list] = collections.defaultdict(list)
        self._interval = interval
        self._urgent = False
        self._last_flush = 0.0

    def put(self, sink: _EventSink, event: GenerationEvent | GenerationFailed, *, urgent: bool = False) -> None:
        self._pending[sink.loop].append((sink.queue, event))
        self._urgent = self._urgent or urgent or not isinstance(event, TokenEvent)

    def flush(self, *, force: bool = False) -> None:
        if not self._pending:
            return
        now = time.perf_counter()
        if not (force or self._urgent or now - self._last_flush >= self._interval):
            return
        self._urgent, self._last_flush = False, now
        pending, self._pending = self._pending, collections.defaultdict(list)
        for loop, batch in pending.items():
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening any more
                loop.call_soon_threadsafe(_deliver, batch)


@dataclass(eq=False)
class _Sequence:
    prompt_ids: list[int]
    params: SamplingParams
    max_new_tokens: int
    sampler: RowSampler
    sink: _EventSink
    stream: StreamedText  # the token texts: complete characters, nothing past a stop sequence
    submitted_at: float
    started_at: float = 0.0
    first_token_at: float = 0.0
    generated: list[int] = field(default_factory=list)
    pending_token: int = -1
    cancelled: bool = False
    finished: bool = False
    seen_ids: torch.Tensor | None = None  # prompt + generated, only kept when a repetition penalty needs it


class GenerationHandle:
    """One submitted request: iterate its events; `cancel()` frees its batch slot within one step."""

    def __init__(self, engine: BatchEngine, sequence: _Sequence) -> None:
        self._engine = engine
        self._sequence = sequence

    def cancel(self) -> None:
        self._engine._cancel(self._sequence)

    async def events(self) -> AsyncIterator[GenerationEvent]:
        try:
            while True:
                event = await self._sequence.sink.queue.get()
                if isinstance(event, GenerationFailed | Preempted):
                    raise event
                yield event
                if isinstance(event, Summary):
                    return
        finally:
            if not self._sequence.finished:
                self.cancel()


class BatchEngine:
    def __init__(self, model, tokenizer, *, eos_token_ids: set[int], config: EngineConfig,
                 max_positions: int | None, model_label: str = "") -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._eos = frozenset(eos_token_ids)
        self._config = config
        self._max_positions = max_positions
        self._label = model_label
        self._device = next(model.parameters()).device
        self._special_ids = frozenset(getattr(tokenizer, "all_special_ids", ()) or ()) | self._eos
        self._sdpa = getattr(model.config, "_attn_implementation", None) == "sdpa"
        self._lock = threading.Condition()
        self._waiting: collections.deque[_Sequence] = collections.deque()
        self._running: list[_Sequence] = []
        self._admitting = 0
        self._cache: DynamicCache | None = None
        self._mask: torch.Tensor | None = None
        self._padded = False  # whether any row of the running batch has left padding
        # Per-step work kept off the hot path: while no row is padded the mask is all ones, so its new columns
        # are only counted (`_unwritten_columns`) and written when the batch changes; positions advance in
        # place; the next input ids are the previous step's chosen-token tensor, not a list rebuilt each step.
        self._unwritten_columns = 0
        self._positions: torch.Tensor | None = None
        self._next_ids: torch.Tensor | None = None
        self._stopping = False
        self._outbox = _Outbox(config.stream_interval_seconds)  # touched only by the worker thread
        self._activity = config.activity or Activity()
        self._thread = threading.Thread(target=self._run, name=f"engine-{model_label}", daemon=True)
        self._thread.start()

    # -- called from the event loop ------------------------------------------------------------------

    @property
    def running_count(self) -> int:
        """Sequences holding a batch slot (including ones being prefilled right now)."""
        return len(self._running) + self._admitting

    @property
    def waiting_count(self) -> int:
        return len(self._waiting)

    def submit(self, prompt_ids: list[int], params: SamplingParams) -> GenerationHandle:
        loop = asyncio.get_running_loop()
        max_new = params.max_new_tokens
        if self._max_positions is not None:
            if len(prompt_ids) >= self._max_positions:
                raise InvalidArgument(f"{len(prompt_ids)} tokens leave no room in the model's context of "
                                      f"{self._max_positions}", field="prompt")
            max_new = min(max_new, self._max_positions - len(prompt_ids))
        sequence = _Sequence(
            prompt_ids=list(prompt_ids), params=params, max_new_tokens=max_new,
            sampler=RowSampler.for_params(params, self._device), sink=_EventSink(loop),
            stream=StreamedText.for_tokens(self._tokenizer, params.stop_sequences),
            submitted_at=time.perf_counter(),
        )
        with self._lock:
            if self._stopping:
                raise FailedPrecondition("the model is being unloaded")
            if len(self._waiting) >= self._config.max_queue:
                raise ResourceExhausted(f"queue full ({self._config.max_queue} requests waiting); retry later")
            self._waiting.append(sequence)
            metrics.QUEUED_REQUESTS.labels(self._label).set(len(self._waiting))
            self._lock.notify()
        return GenerationHandle(self, sequence)

    def _cancel(self, sequence: _Sequence) -> None:
        with self._lock:
            sequence.cancelled = True
            self._lock.notify()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the worker; requests still queued or running end with a cancelled summary."""
        with self._lock:
            self._stopping = True
            self._lock.notify()
        self._thread.join(timeout)

    # -- the worker thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        with torch.inference_mode():
            while True:
                with self._lock:
                    while not (self._stopping or self._waiting or self._running):
                        self._lock.wait()
                    if self._stopping:
                        break
                    admitted = self._take_admissions()
                try:
                    self._drop_cancelled()
                    self._admit(admitted)
                    self._outbox.flush()
                    if self._running:
                        self._decode_step()
                except Exception as error:  # e.g. out of memory: fail this batch, keep serving later requests
                    log.exception("decoding step failed", model=self._label)
                    for sequence in admitted + self._running:
                        if not sequence.finished:
                            sequence.finished = True
                            failure = GenerationFailed(f"generation failed: {type(error).__name__}: {error}")
                            self._outbox.put(sequence.sink, failure)
                    self._running, self._cache, self._mask, self._admitting = [], None, None, 0
                    self._unwritten_columns, self._positions, self._next_ids = 0, None, None
                    metrics.ACTIVE_SEQUENCES.labels(self._label).set(0)
                self._outbox.flush(force=not self._running)  # never leave events behind when going idle
        with self._lock:
            leftovers = list(self._waiting) + self._running
            self._waiting.clear()
            self._running = []
        for sequence in leftovers:
            self._finish(sequence, FINISH_CANCELLED)
        self._outbox.flush(force=True)

    def _take_admissions(self) -> list[_Sequence]:
        for sequence in [s for s in self._waiting if s.cancelled]:
            self._waiting.remove(sequence)
            self._finish(sequence, FINISH_CANCELLED)
        admitted, preempted = plan_admissions(self._waiting, self._running, self._config.max_batch_size,
                                              self._activity)
        for sequence in preempted:  # dropped from the batch by _drop_cancelled before the admissions join it
            sequence.cancelled = sequence.finished = True
            self._outbox.put(sequence.sink, Preempted("preempted by interactive requests; retry when idle"))
        self._admitting = len(admitted)
        metrics.QUEUED_REQUESTS.labels(self._label).set(len(self._waiting))
        if not admitted and not self._running and self._waiting:
            self._lock.wait(0.05)  # only paused background work waits: look again soon, without spinning
        return admitted

    def _drop_cancelled(self) -> None:
        keep = []
        for sequence in self._running:
            if sequence.cancelled:
                self._finish(sequence, FINISH_CANCELLED)
            else:
                keep.append(sequence)
        if len(keep) != len(self._running):
            self._keep_rows(keep)

    def _admit(self, admitted: list[_Sequence]) -> None:
        joined: list[tuple[_Sequence, list[tuple[torch.Tensor, torch.Tensor]]]] = []
        for sequence in admitted:
            sequence.started_at = time.perf_counter()
            metrics.QUEUED_REQUESTS.labels(self._label).set(len(self._waiting))
            metrics.QUEUE_SECONDS.labels(self._label).observe(sequence.started_at - sequence.submitted_at)
            if sequence.cancelled or sequence.max_new_tokens <= 0:
                self._admitting -= 1
                self._finish(sequence, FINISH_CANCELLED if sequence.cancelled else FINISH_LENGTH)
                continue
            input_ids = torch.tensor([sequence.prompt_ids], device=self._device)
            output = self._model(input_ids=input_ids, past_key_values=DynamicCache(), use_cache=True,
                                 logits_to_keep=1)
            logits = output.logits[:, -1, :].float()
            if sequence.params.repetition_penalty != 1.0:
                sequence.seen_ids = input_ids[0].clone()
            token, logprob, top = self._choose([sequence], logits)[0]
            if self._advance(sequence, token, logprob, top):
                self._admitting -= 1
                continue
            layers = [(layer.keys, layer.values) for layer in output.past_key_values.layers]
            joined.append((sequence, layers))
        if joined:
            self._merge(joined)
        self._admitting = 0

    def _merge(self, joined: list[tuple[_Sequence, list[tuple[torch.Tensor, torch.Tensor]]]]) -> None:
        self._write_mask_columns()
        old_rows = len(self._running)
        old_len = self._mask.shape[1] if self._mask is not None else 0
        new_len = max([old_len] + [layers[0][0].shape[2] for _, layers in joined])
        rows = old_rows + len(joined)
        mask = torch.zeros(rows, new_len, dtype=torch.long, device=self._device)
        if old_rows:
            mask[:old_rows, new_len - old_len:] = self._mask
        merged_layers = []
        layer_count = len(joined[0][1])
        for index in range(layer_count):
            template = joined[0][1][index][0]
            heads, head_dim = template.shape[1], template.shape[3]
            keys = template.new_zeros(rows, heads, new_len, head_dim)
            values = template.new_zeros(rows, heads, new_len, head_dim)
            if old_rows:
                old = self._cache.layers[index]
                keys[:old_rows, :, new_len - old_len:] = old.keys
                values[:old_rows, :, new_len - old_len:] = old.values
            for offset, (_, layers) in enumerate(joined):
                layer_keys, layer_values = layers[index]
                length = layer_keys.shape[2]
                keys[old_rows + offset, :, new_len - length:] = layer_keys[0]
                values[old_rows + offset, :, new_len - length:] = layer_values[0]
            merged_layers.append((keys, values))
        for offset, (_, layers) in enumerate(joined):
            length = layers[0][0].shape[2]
            mask[old_rows + offset, new_len - length:] = 1
        self._cache = DynamicCache(ddp_cache_data=merged_layers)
        self._mask = mask
        self._padded = not bool(mask.all())
        self._positions = mask.sum(dim=1, keepdim=True)
        self._next_ids = None
        self._running = self._running + [sequence for sequence, _ in joined]
        self._admitting = 0
        metrics.ACTIVE_SEQUENCES.labels(self._label).set(len(self._running))

    def _keep_rows(self, keep: list[_Sequence]) -> None:
        if not keep:
            self._running, self._cache, self._mask = [], None, None
            self._unwritten_columns, self._positions, self._next_ids = 0, None, None
            metrics.ACTIVE_SEQUENCES.labels(self._label).set(0)
            return
        self._write_mask_columns()
        position = {id(sequence): row for row, sequence in enumerate(self._running)}
        index = torch.tensor([position[id(sequence)] for sequence in keep], device=self._device)
        mask = self._mask.index_select(0, index)
        first_used = int(mask.any(dim=0).int().argmax())  # leading columns that are padding in every row
        self._mask = mask[:, first_used:]
        self._padded = not bool(self._mask.all())
        self._positions = self._mask.sum(dim=1, keepdim=True)
        self._next_ids = None
        for layer in self._cache.layers:
            layer.keys = layer.keys.index_select(0, index)[:, :, first_used:]
            layer.values = layer.values.index_select(0, index)[:, :, first_used:]
        self._running = keep
        metrics.ACTIVE_SEQUENCES.labels(self._label).set(len(keep))

    def _decode_step(self) -> None:
        rows = len(self._running)
        metrics.BATCH_SIZE.labels(self._label).observe(rows)
        input_ids = self._next_ids
        if input_ids is None:
            input_ids = torch.tensor([[s.pending_token] for s in self._running], device=self._device)
        position_ids = self._positions
        # With sdpa, hand over the (rows, 1, 1, keys) boolean mask ourselves: transformers would otherwise
        # rebuild a 4-D mask from the padded 2-D one at every step, which doubles the cost of a tiny model's
        # step; the logits are bit-identical either way.
        if not self._padded:
            mask = None  # every row sees its whole cache: no mask at all is the fastest path
            self._unwritten_columns += 1
        else:
            self._mask = torch.cat([self._mask, self._mask.new_ones(rows, 1)], dim=1)
            mask = self._mask.bool()[:, None, None, :] if self._sdpa else self._mask
        output = self._model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids,
                             past_key_values=self._cache, use_cache=True, logits_to_keep=1)
        self._cache = output.past_key_values
        self._positions = position_ids + 1
        choices = self._choose(self._running, output.logits[:, -1, :].float())
        keep = [s for s, (token, logprob, top) in zip(self._running, choices, strict=True)
                if not self._advance(s, token, logprob, top)]
        if len(keep) != rows:
            self._keep_rows(keep)
        else:
            self._next_ids = self._chosen_ids

    def _write_mask_columns(self) -> None:
        """Write the all-ones mask columns the unpadded fast path only counted."""
        if self._unwritten_columns and self._mask is not None:
            rows = self._mask.shape[0]
            self._mask = torch.cat([self._mask, self._mask.new_ones(rows, self._unwritten_columns)], dim=1)
        self._unwritten_columns = 0

    def _choose(self, sequences: list[_Sequence], logits: torch.Tensor) -> list[tuple[int, float, tuple]]:
        """Next token, its log-probability (under the model's unprocessed distribution) and the most likely
        alternatives (only for rows that asked for them) for each row."""
        logprobs = torch.log_softmax(logits, dim=-1)
        tokens = torch.argmax(logits, dim=-1)
        for row, sequence in enumerate(sequences):
            if sequence.sampler.needs_row_processing:
                seen = sequence.seen_ids if sequence.seen_ids is not None else tokens.new_empty(0)
                tokens[row] = sequence.sampler.choose(logits[row], seen)
        self._chosen_ids = tokens[:, None]
        chosen = logprobs.gather(1, self._chosen_ids)[:, 0]
        alternatives: list[tuple] = [()] * len(sequences)
        wanted = max(sequence.params.top_logprobs for sequence in sequences)
        if wanted:
            top = torch.topk(logprobs, min(wanted, logprobs.shape[-1]), dim=-1)
            top_values, top_ids = top.values.tolist(), top.indices.tolist()
            for row, sequence in enumerate(sequences):
                count = sequence.params.top_logprobs
                if count:
                    alternatives[row] = tuple(Alternative(id=i, text=self._token_text(i), logprob=v)
                                              for i, v in zip(top_ids[row][:count], top_values[row][:count],
                                                              strict=True))
        return list(zip(tokens.tolist(), chosen.tolist(), alternatives, strict=True))

    def _token_text(self, token: int) -> str:
        return self._tokenizer.decode([token], skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def _advance(self, sequence: _Sequence, token: int, logprob: float, top: tuple = ()) -> bool:
        """Record one new token; returns True when the sequence has finished."""
        now = time.perf_counter()
        if not sequence.generated:
            sequence.first_token_at = now
            metrics.TIME_TO_FIRST_TOKEN.labels(self._label).observe(now - sequence.submitted_at)
        sequence.generated.append(token)
        sequence.pending_token = token
        if sequence.seen_ids is not None:
            sequence.seen_ids = torch.cat([sequence.seen_ids, sequence.seen_ids.new_tensor([token])])
        piece = sequence.stream.add_token(token)
        reason = ""
        if token in self._eos:
            reason = FINISH_EOS
        elif sequence.stream.stopped:
            reason = FINISH_STOP_SEQUENCE
        elif len(sequence.generated) >= sequence.max_new_tokens:
            reason = FINISH_LENGTH
        if reason:  # the last token carries what was held back, so the pieces add up to the summary's text
            piece += sequence.stream.finish()
        self._outbox.put(sequence.sink, TokenEvent(id=token, text=piece, logprob=logprob, top=top,
                                                   special=token in self._special_ids),
                         urgent=len(sequence.generated) == 1)
        if reason:
            self._finish(sequence, reason)
        return sequence.finished

    def _finish(self, sequence: _Sequence, reason: str) -> None:
        if sequence.finished:
            return
        sequence.finished = True
        end = time.perf_counter()
        started = sequence.started_at or end
        text, matched = sequence.stream.final() if sequence.generated else ("", "")
        generated = len(sequence.generated)
        first = sequence.first_token_at
        if generated > 1:
            metrics.TIME_PER_OUTPUT_TOKEN.labels(self._label).observe((end - first) / (generated - 1))
        metrics.TOKENS_GENERATED.labels(self._label).inc(generated)
        self._outbox.put(sequence.sink, Summary(
            finish_reason=reason,
            generated_tokens=generated,
            prompt_tokens=len(sequence.prompt_ids),
            queue_seconds=started - sequence.submitted_at,
            time_to_first_token_seconds=(first - sequence.submitted_at) if first else 0.0,
            tokens_per_second=generated / (end - started) if end > started else 0.0,
            total_seconds=end - sequence.submitted_at,
            text=text,
            seed=sequence.sampler.seed,
            stop_sequence=matched if reason == FINISH_STOP_SEQUENCE else "",
        ))
