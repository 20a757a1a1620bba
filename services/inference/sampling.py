"""Choosing the next token of each sequence from a batch of logits.

Each sampling sequence owns a `torch.Generator` seeded from its request, and draws from it only for its own
row, so a seeded request gives the same tokens whatever else shares the batch. Processing order follows
transformers' `generate`: repetition penalty, temperature, top-k, top-p.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from services.inference.params import SamplingParams


@dataclass
class RowSampler:
    params: SamplingParams
    generator: torch.Generator | None
    # The seed the generator started from (drawn at random when the request set none), so any sampled answer
    # can be reproduced; None when decoding greedily.
    seed: int | None = None

    @classmethod
    def for_params(cls, params: SamplingParams, device: torch.device) -> RowSampler:
        generator, seed = None, None
        if not params.greedy:
            generator = torch.Generator(device=device)
            seed = params.seed if params.seed is not None else generator.seed() % 2**63
            generator.manual_seed(seed)
        return cls(params=params, generator=generator, seed=seed)

    @property
    def needs_row_processing(self) -> bool:
        return not self.params.greedy or self.params.repetition_penalty != 1.0

    def choose(self, logits: torch.Tensor, seen_ids: torch.Tensor) -> int:
        """Pick a token from one row of float32 logits (shape [vocab]); `seen_ids` = prompt + generated."""
        params = self.params
        if params.repetition_penalty != 1.0 and seen_ids.numel():
            logits = logits.clone()
            scores = logits.gather(0, seen_ids)
            scores = torch.where(scores < 0, scores * params.repetition_penalty, scores / params.repetition_penalty)
            logits.scatter_(0, seen_ids, scores)
        if params.greedy:
            return int(torch.argmax(logits))
        logits = logits / params.temperature
        if params.top_k > 0 and params.top_k < logits.shape[-1]:
            kth = torch.topk(logits, params.top_k).values[-1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if params.top_p < 1.0:
            sorted_logits, sorted_index = torch.sort(logits, descending=False)
            cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
            remove = cumulative <= (1 - params.top_p)
            remove[-1] = False  # always keep the most likely token
            logits = logits.masked_fill(remove.scatter(0, sorted_index, remove), float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        return int(torch.multinomial(probs, 1, generator=self.generator))


class IncrementalDetokenizer:
    """Turns a growing list of token ids into text pieces without re-decoding everything each step, and
    holds back pieces that end in an incomplete UTF-8 sequence (byte-level BPE splits characters).

    The window `prefix_offset..read_offset` (as in TGI and vLLM) is decoded with the new ids; new text is
    released only once it no longer ends in U+FFFD; what is still held when the sequence ends is the tail of
    `full_text()` past the pieces (`StreamedText.finish`)."""

    def __init__(self, tokenizer) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix_offset = 0
        self._read_offset = 0

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def add(self, token_id: int) -> str:
        self._ids.append(token_id)
        prefix_text = self._decode(self._ids[self._prefix_offset:self._read_offset])
        new_text = self._decode(self._ids[self._prefix_offset:])
        if len(new_text) > len(prefix_text) and not new_text.endswith("\ufffd"):
            piece = new_text[len(prefix_text):]
            self._prefix_offset = self._read_offset
            self._read_offset = len(self._ids)
            return piece
        return ""

    def full_text(self) -> str:
        return self._decode(self._ids)


class StreamedText:
    """The text one sequence streams, piece by piece: nothing after the first stop sequence, and a tail that
    could still grow into one is held back, so the pieces always concatenate to `final()`'s text (what the
    unary call returns). Fed with text pieces (`add`) or, through `for_tokens`, with token ids (`add_token`)."""

    def __init__(self, stop_sequences: tuple[str, ...] = (), detokenizer: IncrementalDetokenizer | None = None):
        self._stops = tuple(stop_sequences)
        self._detokenizer = detokenizer
        self._text = ""  # every piece so far
        self._released = 0  # how much of it was handed out
        self.stopped = False  # a stop sequence has appeared: the sequence should end here

    @classmethod
    def for_tokens(cls, tokenizer, stop_sequences: tuple[str, ...] = ()) -> StreamedText:
        return cls(stop_sequences, IncrementalDetokenizer(tokenizer))

    def add_token(self, token_id: int) -> str:
        return self.add(self._detokenizer.add(token_id))

    def add(self, piece: str) -> str:
        """Append decoded text; returns what may be released now."""
        if not piece or self.stopped:
            return ""
        self._text += piece
        if not self._stops:
            return self._release(len(self._text))
        if find_stop(self._text, self._stops, len(piece)) != -1:
            self.stopped = True
            return ""
        held = max((size for stop in self._stops for size in range(1, min(len(stop), len(self._text) + 1))
                    if self._text.endswith(stop[:size])), default=0)
        return self._release(len(self._text) - held)

    def finish(self, final_text: str | None = None) -> str:
        """The rest of the final text (`final()`'s unless given), once the sequence has ended."""
        text = self.final()[0] if final_text is None else final_text
        rest = text[self._released:] if text.startswith(self._text[:self._released]) else ""
        self._released = max(self._released, len(text))
        return rest

    def final(self) -> tuple[str, str]:
        """(the whole text cut before the first stop sequence, that stop sequence or "")."""
        text = self._detokenizer.full_text() if self._detokenizer is not None else self._text
        return cut_at_stop(text, self._stops)

    def _release(self, limit: int) -> str:
        if limit <= self._released:
            return ""
        piece = self._text[self._released:limit]
        self._released = limit
        return piece


def cut_at_stop(text: str, stop_sequences: tuple[str, ...]) -> tuple[str, str]:
    """(text before the earliest stop sequence, the stop sequence matched there or "")."""
    stop_at = find_stop(text, stop_sequences, len(text)) if stop_sequences else -1
    if stop_at == -1:
        return text, ""
    return text[:stop_at], next(stop for stop in stop_sequences if text.startswith(stop, stop_at))


def find_stop(text: str, stop_sequences: tuple[str, ...], new_chars: int) -> int:
    """Index where the earliest stop sequence starts, looking only where the last `new_chars` could complete
    one; -1 when none matched."""
    best = -1
    for stop in stop_sequences:
        start = max(0, len(text) - new_chars - len(stop) + 1)
        index = text.find(stop, start)
        if index != -1 and (best == -1 or index < best):
            best = index
    return best
