"""Quest rows -> tokenized examples with assistant-only targets -> packed sequences -> model inputs.

Three rules the original system broke, enforced here before step 1:
  * every assistant turn is trained (not just the first one);
  * nothing of a system or user message is trained;
  * packed examples never attend to each other (a block-diagonal causal 4D mask plus per-example
    position_ids; position_ids alone do not isolate examples, see DESIGN.md §9).

Targets are shifted inside each example (`targets[i]` is the token that position i must predict), so the
last token of one packed example never learns to predict the first token of the next.
"""

from __future__ import annotations

import bisect
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.kit.errors import InvalidArgument

IGNORE_INDEX = -100
_GENERATION_TAG = re.compile(r"{%-?\s*generation\s*-?%}")
ROLES = ("system", "user", "assistant")


class MaskingError(InvalidArgument):
    """The chat template / data would train the wrong tokens; the quest is aborted before step 1."""


@dataclass(frozen=True)
class Example:
    line: int  # 1-based line in the quest file
    input_ids: tuple[int, ...]
    targets: tuple[int, ...]  # shifted: targets[i] is predicted at position i, IGNORE_INDEX if untrained

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def trained_tokens(self) -> int:
        return sum(1 for t in self.targets if t != IGNORE_INDEX)


@dataclass(frozen=True)
class MaskReport:
    examples: int
    total_tokens: int
    trained_tokens: int

    @property
    def mask_ratio(self) -> float:
        return self.trained_tokens / self.total_tokens if self.total_tokens else 0.0


# ---------------------------------------------------------------- reading


def read_quest(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) for every non-blank line; a malformed row raises naming its line."""
    rows: list[tuple[int, dict[str, Any]]] = []
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InvalidArgument(f"not valid JSON ({exc.msg})", field=f"line {number}") from None
            _check_row(row, number)
            rows.append((number, row))
    if not rows:
        raise InvalidArgument("the quest has no rows", field="dataset_path")
    return rows


def _check_row(row: Any, line: int) -> None:
    where = f"line {line}"
    if not isinstance(row, dict):
        raise InvalidArgument("a row must be a JSON object", field=where)
    if "messages" in row:
        messages = row["messages"]
        if not isinstance(messages, list) or not messages:
            raise InvalidArgument("messages must be a non-empty list", field=where)
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ROLES:
                raise InvalidArgument(f"messages[{index}].role must be one of {', '.join(ROLES)}", field=where)
            if not isinstance(message.get("content"), str):
                raise InvalidArgument(f"messages[{index}].content must be a string", field=where)
        if not any(m["role"] == "assistant" for m in messages):
            raise InvalidArgument("has no assistant message to train on", field=where)
    elif "text" in row:
        if not isinstance(row["text"], str) or not row["text"]:
            raise InvalidArgument("text must be a non-empty string", field=where)
    else:
        raise InvalidArgument("a row needs 'messages' (chat) or 'text' (completion_v1)", field=where)


# ---------------------------------------------------------------- tokenizing + masking


def _assistant_char_spans(tokenizer, messages: list[dict[str, str]], line: int) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans the template marks as assistant output.

    Templates with a `{% generation %}` block say it directly. For others (many real heroes) the span of
    assistant turn k is what rendering messages[:k+1] adds to rendering messages[:k] with a generation
    prompt; a template whose earlier turns change as the conversation grows is rejected.
    """
    template = tokenizer.chat_template
    if not template:
        raise MaskingError("the hero's tokenizer has no chat template", field="chat_template")
    if _GENERATION_TAG.search(template):
        from transformers.utils.chat_template_utils import render_jinja_template

        rendered, spans = render_jinja_template(
            conversations=[messages],
            chat_template=template,
            return_assistant_tokens_mask=True,
            **tokenizer.special_tokens_map,
        )
        return rendered[0], [tuple(s) for s in spans[0]]
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    spans: list[tuple[int, int]] = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(messages[:index], tokenize=False, add_generation_prompt=True) if index else ""
        after = tokenizer.apply_chat_template(messages[: index + 1], tokenize=False)
        if not full.startswith(after) or not after.startswith(before):
            raise MaskingError(
                f"the chat template renders earlier turns differently as the conversation grows "
                f"(assistant turn {index}); add a {{% generation %}} block to the template",
                field=f"line {line}",
            )
        # Train the reply and the end-of-turn marker, not whitespace the template puts after it.
        end = len(after.rstrip("\n "))
        spans.append((len(before), end))
    return full, spans


def _locate_contents(text: str, messages: list[dict[str, str]], line: int) -> list[tuple[int, int]]:
    cursor = 0
    located = []
    for index, message in enumerate(messages):
        content = message["content"]
        position = text.find(content, cursor)
        if content and position < 0:
            raise MaskingError(
                f"the chat template does not render messages[{index}] ({message['role']}) verbatim",
                field=f"line {line}",
            )
        located.append((position, position + len(content)) if content else (cursor, cursor))
        cursor = located[-1][1]
    return located


def tokenize_example(tokenizer, row: dict[str, Any], line: int) -> Example:
    """Render, tokenize and label one row; raises MaskingError when the labels would be wrong."""
    if "text" in row:
        # completion_v1: the whole text is trained, followed by end-of-sequence.
        ids = list(tokenizer(row["text"], add_special_tokens=False)["input_ids"]) + [tokenizer.eos_token_id]
        trained = [True] * len(ids)
        trained[0] = False  # nothing predicts the first token
        return _example(line, ids, trained)

    messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
    text, spans = _assistant_char_spans(tokenizer, messages, line)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(encoded["input_ids"]), encoded["offset_mapping"]
    starts = [s for s, _ in spans]
    trained = []
    for start, end in offsets:
        # A token is trained when it overlaps an assistant span.
        k = bisect.bisect_right(starts, start) - 1
        inside = (k >= 0 and start < spans[k][1]) or (k + 1 < len(spans) and spans[k + 1][0] < end)
        trained.append(end > start and inside)

    contents = _locate_contents(text, messages, line)
    for index, (message, (c_start, c_end)) in enumerate(zip(messages, contents, strict=True)):
        if c_start == c_end:
            continue
        covering = [t for t, (s, e) in enumerate(offsets) if s < c_end and e > c_start]
        if message["role"] == "assistant":
            missed = [t for t in covering if not trained[t]]
            if missed:
                raise MaskingError(
                    f"assistant messages[{index}] is not fully trained ({len(missed)} of {len(covering)} tokens "
                    f"masked out); the chat template must mark every assistant turn",
                    field=f"line {line}",
                )
        else:
            leaked = [t for t in covering if trained[t]]
            if leaked:
                raise MaskingError(
                    f"{message['role']} messages[{index}] would be trained ({len(leaked)} tokens, e.g. "
                    f"{tokenizer.decode([ids[leaked[0]]])!r}); only assistant turns may be",
                    field=f"line {line}",
                )
    return _example(line, ids, trained)


def _example(line: int, ids: list[int], trained: list[bool]) -> Example:
    targets = [ids[i + 1] if trained[i + 1] else IGNORE_INDEX for i in range(len(ids) - 1)] + [IGNORE_INDEX]
    example = Example(line=line, input_ids=tuple(ids), targets=tuple(targets))
    if example.trained_tokens == 0:
        raise MaskingError("no token of this row would be trained", field=f"line {line}")
    return example


def tokenize_quest(
    tokenizer, rows: Sequence[tuple[int, dict[str, Any]]], *, max_seq_len: int, min_mask_ratio: float, max_mask_ratio: float
) -> tuple[list[Example], MaskReport]:
    """Tokenize every row and run the quest-level masking checks."""
    examples = []
    for line, row in rows:
        example = tokenize_example(tokenizer, row, line)
        if len(example) > max_seq_len:
            raise InvalidArgument(
                f"{len(example)} tokens, longer than max_seq_len {max_seq_len} (raise max_seq_len or split the row)",
                field=f"line {line}",
            )
        examples.append(example)
    report = MaskReport(
        examples=len(examples),
        total_tokens=sum(len(e) for e in examples),
        trained_tokens=sum(e.trained_tokens for e in examples),
    )
    if not min_mask_ratio <= report.mask_ratio <= max_mask_ratio:
        raise MaskingError(
            f"{report.mask_ratio:.3f} of the tokens would be trained, outside the configured bounds "
            f"[{min_mask_ratio}, {max_mask_ratio}]",
            field="mask_ratio",
        )
    return examples, report


# ---------------------------------------------------------------- packing


def pack_best_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Bins of example indices, each summing to <= capacity: longest first, into the fullest bin it fits."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    # (remaining capacity, bin index), kept sorted so the best fit is a bisect away.
    free: list[tuple[int, int]] = []
    for index in order:
        size = lengths[index]
        if size > capacity:
            raise ValueError(f"example {index} has {size} tokens, more than the capacity {capacity}")
        slot = bisect.bisect_left(free, (size, -1))
        if slot < len(free):
            remaining, bin_index = free.pop(slot)
            bins[bin_index].append(index)
            bisect.insort(free, (remaining - size, bin_index))
        else:
            bins.append([index])
            bisect.insort(free, (capacity - size, len(bins) - 1))
    return bins


@dataclass(frozen=True)
class PackedQuest:
    """The quest as a list of sequences (each a list of example indices) in a fixed, seed-determined order."""

    examples: list[Example]
    sequences: list[list[int]]
    max_seq_len: int
    packing: bool = True

    @classmethod
    def build(cls, examples: list[Example], max_seq_len: int, *, packing: bool) -> PackedQuest:
        if packing:
            sequences = pack_best_fit_decreasing([len(e) for e in examples], max_seq_len)
        else:
            sequences = [[i] for i in range(len(examples))]
        return cls(examples=examples, sequences=sequences, max_seq_len=max_seq_len, packing=packing)

    @property
    def efficiency(self) -> float:
        """Share of real tokens if every sequence were padded to max_seq_len."""
        used = sum(len(e) for e in self.examples)
        return used / (len(self.sequences) * self.max_seq_len) if self.sequences else 0.0

    def epoch_micro_batches(
        self, epoch: int, seed: int, micro_batch_size: int, *, shuffle: bool, world_size: int = 1, rank: int = 0
    ) -> list[list[int]]:
        """This rank's micro-batches (lists of sequence indices) for one epoch, deterministic in (seed, epoch).

        With several ranks the micro-batch list is padded by repeating its start (like DistributedSampler)
        so every rank takes the same number of steps.
        """
        order = list(range(len(self.sequences)))
        if shuffle:
            random.Random(seed * 1_000_003 + epoch).shuffle(order)
        batches = [order[i : i + micro_batch_size] for i in range(0, len(order), micro_batch_size)]
        if world_size > 1:
            shortfall = (-len(batches)) % world_size
            batches += [batches[i % len(batches)] for i in range(shortfall)]
            batches = batches[rank::world_size]
        return batches

    def epoch_steps_by_examples(
        self, epoch: int, seed: int, examples_per_step: int, micro_batch_size: int, *, shuffle: bool
    ) -> list[list[list[list[int]]]]:
        """One epoch's optimizer steps when each step holds exactly `examples_per_step` examples (the last step
        the remainder): steps -> micro-batches -> rows -> example indices.

        The examples, in an order fixed by (seed, epoch), are cut into groups of `examples_per_step`; each group is
        packed best-fit-decreasing into rows as long as its longest example (one example per row without
        packing), at most `micro_batch_size` rows per forward pass. A step is then the batch an unpacked trainer
        pads to its longest example, with the padding filled by the other examples: the same examples, the same
        width, fewer rows. (Rows of max_seq_len would be fewer still, but attention costs the square of the width.)
        """
        order = list(range(len(self.examples)))
        if shuffle:
            random.Random(seed * 1_000_003 + epoch).shuffle(order)
        steps = []
        for start in range(0, len(order), examples_per_step):
            group = order[start : start + examples_per_step]
            if self.packing:
                lengths = [len(self.examples[i]) for i in group]
                bins = pack_best_fit_decreasing(lengths, max(lengths))
                rows = [[group[k] for k in row] for row in bins]
            else:
                rows = [[i] for i in group]
            steps.append([rows[i : i + micro_batch_size] for i in range(0, len(rows), micro_batch_size)])
        return steps

    def collate(self, sequence_indices: Sequence[int], *, pad_token_id: int, dtype=None) -> dict[str, Any]:
        """Model inputs for the packed sequences `sequence_indices` (see `collate_rows`)."""
        return self.collate_rows([self.sequences[s] for s in sequence_indices], pad_token_id=pad_token_id,
                                 dtype=dtype)

    def collate_rows(self, example_rows: Sequence[Sequence[int]], *, pad_token_id: int, dtype=None) -> dict[str, Any]:
        """Model inputs for one micro-batch of rows (each a list of example indices packed together):
        input_ids, position_ids, targets (B, T) and a 4D additive mask.

        Rows are padded to the longest one in the micro-batch (rounded up to a multiple of 8).
        """
        import torch

        dtype = dtype or torch.float32
        rows = [[self.examples[i] for i in row] for row in example_rows]
        longest = max(sum(len(e) for e in row) for row in rows)
        width = min(self.max_seq_len, -(-longest // 8) * 8) if longest <= self.max_seq_len else longest
        batch = len(rows)
        input_ids = torch.full((batch, width), pad_token_id, dtype=torch.long)
        targets = torch.full((batch, width), IGNORE_INDEX, dtype=torch.long)
        position_ids = torch.zeros((batch, width), dtype=torch.long)
        segments = torch.zeros((batch, width), dtype=torch.long)  # 0 = padding, k = k-th example of the row
        for b, row in enumerate(rows):
            cursor = 0
            for k, example in enumerate(row, start=1):
                n = len(example)
                input_ids[b, cursor : cursor + n] = torch.tensor(example.input_ids)
                targets[b, cursor : cursor + n] = torch.tensor(example.targets)
                position_ids[b, cursor : cursor + n] = torch.arange(n)
                segments[b, cursor : cursor + n] = k
                cursor += n
        return {
            "input_ids": input_ids,
            "position_ids": position_ids,
            "targets": targets,
            "attention_mask": block_causal_mask(segments, dtype),
            "real_tokens": int((segments > 0).sum()),
            "trained_tokens": int((targets != IGNORE_INDEX).sum()),
        }


def block_causal_mask(segments, dtype):
    """(B, 1, T, T) additive mask: position i sees j iff j <= i and both belong to the same example.

    Padding positions (segment 0) see only themselves, which keeps their softmax finite; their targets are
    ignored anyway.
    """
    import torch

    length = segments.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    same = segments[:, :, None] == segments[:, None, :]
    allowed = same & causal & (segments[:, :, None] > 0)
    allowed |= torch.eye(length, dtype=torch.bool)
    mask = torch.zeros(allowed.shape, dtype=dtype)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None, :, :]
