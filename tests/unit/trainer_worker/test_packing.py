from __future__ import annotations

import json
import random

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from services.kit.errors import InvalidArgument
from services.trainer.worker.packing import (
    IGNORE_INDEX,
    MaskingError,
    PackedQuest,
    block_causal_mask,
    pack_best_fit_decreasing,
    read_quest,
    tokenize_example,
    tokenize_quest,
)


def conversation(system="You add binary numbers.", turns=(("1 + 1", "10"), ("10 + 1", "11"))):
    messages = [{"role": "system", "content": system}] if system else []
    for user, assistant in turns:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return {"messages": messages}


@pytest.fixture(scope="module")
def tokenizer(tiny_hero_dir):
    return AutoTokenizer.from_pretrained(tiny_hero_dir)


def trained_text(tokenizer, example):
    # targets[i] is the token at i + 1 when trained
    ids = [t for t in example.targets if t != IGNORE_INDEX]
    return tokenizer.decode(ids)


def test_every_assistant_turn_and_only_assistant_tokens_are_trained(tokenizer):
    example = tokenize_example(tokenizer, conversation(turns=(("1 + 1", "10"), ("10 + 1", "11"), ("0 + 0", "0"))), 1)
    assert trained_text(tokenizer, example) == "10<|im_end|>11<|im_end|>0<|im_end|>"
    assert example.targets[-1] == IGNORE_INDEX
    # Shifted inside the example: the target of position i is the input token at i + 1.
    for i, target in enumerate(example.targets[:-1]):
        assert target in (IGNORE_INDEX, example.input_ids[i + 1])


def test_completion_rows_train_the_whole_text(tokenizer):
    example = tokenize_example(tokenizer, {"text": "101 + 1 = 110"}, 1)
    # every token but the first (nothing predicts it), then end-of-sequence
    assert trained_text(tokenizer, example) == "01 + 1 = 110<|im_end|>"
    assert example.trained_tokens == len(example) - 1


SYSTEM_LEAK_TEMPLATE = (  # the original bug: the system prompt was trained
    "{%- for m in messages -%}{% generation %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>"
    "{% endgeneration %}\n{% endfor -%}"
)
FIRST_TURN_ONLY_TEMPLATE = (
    "{%- for m in messages -%}<|im_start|>{{ m['role'] }}\n"
    "{%- if m['role'] == 'assistant' and loop.index0 < 3 -%}{% generation %}{{ m['content'] }}<|im_end|>{% endgeneration %}"
    "{%- else -%}{{ m['content'] }}<|im_end|>{%- endif -%}\n{%- endfor -%}"
)
DROPS_CONTENT_TEMPLATE = "{%- for m in messages -%}<|im_start|>{{ m['role'] }}\n<|im_end|>\n{%- endfor -%}"


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        (SYSTEM_LEAK_TEMPLATE, "would be trained"),
        ("<|endoftext|>" + SYSTEM_LEAK_TEMPLATE, "system messages[0] would be trained"),
        (FIRST_TURN_ONLY_TEMPLATE, "assistant messages[4] is not fully trained"),
        (DROPS_CONTENT_TEMPLATE, "verbatim"),
    ],
)
def test_bad_templates_are_rejected_before_training(tiny_hero_dir, template, fragment):
    tokenizer = AutoTokenizer.from_pretrained(tiny_hero_dir)
    tokenizer.chat_template = template
    with pytest.raises(MaskingError) as caught:
        tokenize_quest(tokenizer, [(7, conversation())], max_seq_len=512, min_mask_ratio=0, max_mask_ratio=1)
    assert fragment in caught.value.message
    assert caught.value.field == "line 7"


def test_templates_without_generation_block_use_turn_by_turn_rendering(tiny_hero_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_hero_dir)
    tokenizer.chat_template = (
        "{%- for m in messages -%}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor -%}"
        "{%- if add_generation_prompt -%}<|im_start|>assistant\n{% endif -%}"
    )
    example = tokenize_example(tokenizer, conversation(), 1)
    assert trained_text(tokenizer, example) == "10<|im_end|>11<|im_end|>"


def test_mask_ratio_bounds_abort_the_quest(tokenizer):
    rows = [(1, conversation(system="x " * 200))]
    with pytest.raises(MaskingError) as caught:
        tokenize_quest(tokenizer, rows, max_seq_len=1024, min_mask_ratio=0.05, max_mask_ratio=0.9)
    assert caught.value.field == "mask_ratio"
    _, report = tokenize_quest(tokenizer, rows, max_seq_len=1024, min_mask_ratio=0.0, max_mask_ratio=0.9)
    assert 0 < report.mask_ratio < 0.05


def test_overlong_rows_and_bad_rows_name_their_line(tokenizer, tmp_path):
    with pytest.raises(InvalidArgument) as caught:
        tokenize_quest(tokenizer, [(3, conversation(system="y " * 100))], max_seq_len=32, min_mask_ratio=0,
                       max_mask_ratio=1)
    assert caught.value.field == "line 3"
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(conversation()) + "\n\n" + '{"messages": [{"role": "user", "content": "hi"}]}\n')
    with pytest.raises(InvalidArgument) as caught:
        read_quest(path)
    assert caught.value.field == "line 3" and "assistant" in caught.value.message
    path.write_text("{not json\n")
    with pytest.raises(InvalidArgument, match="line 1"):
        read_quest(path)


def test_best_fit_decreasing_fills_bins_tightly():
    rng = random.Random(0)
    lengths = [rng.randint(5, 60) for _ in range(300)]
    bins = pack_best_fit_decreasing(lengths, 128)
    assert sorted(i for b in bins for i in b) == list(range(300))
    assert all(sum(lengths[i] for i in b) <= 128 for b in bins)
    lower_bound = -(-sum(lengths) // 128)
    assert len(bins) <= lower_bound + 2
    assert pack_best_fit_decreasing([100, 30, 70], 100) == [[0], [2, 1]]


def test_block_causal_mask_isolates_examples():
    segments = torch.tensor([[1, 1, 2, 2, 2, 0]])
    mask = block_causal_mask(segments, torch.float32)[0, 0] == 0
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [0, 0, 1, 0, 0, 0],
            [0, 0, 1, 1, 0, 0],
            [0, 0, 1, 1, 1, 0],
            [0, 0, 0, 0, 0, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(mask, expected)


def _rows(n, seed=0):
    rng = random.Random(seed)
    rows = []
    for line in range(1, n + 1):
        turns = [(f"{rng.randrange(64):b} + {rng.randrange(64):b}", f"{rng.randrange(128):b}")
                 for _ in range(rng.randint(1, 3))]
        rows.append((line, conversation(system=rng.choice(["", "Add."]), turns=turns)))
    return rows


def test_packed_loss_equals_unpacked_loss(tiny_hero_dir, tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_hero_dir, dtype=torch.float32)
    model.eval()
    examples, _ = tokenize_quest(tokenizer, _rows(12), max_seq_len=160, min_mask_ratio=0, max_mask_ratio=1)
    packed = PackedQuest.build(examples, 160, packing=True)
    assert len(packed.sequences) < len(examples)  # several examples really share a sequence
    batch = packed.collate(list(range(len(packed.sequences))), pad_token_id=tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                       attention_mask=batch["attention_mask"]).logits
        packed_sum = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["targets"].reshape(-1),
                                     ignore_index=IGNORE_INDEX, reduction="sum")
        alone_sum = torch.zeros(())
        for example in examples:
            out = model(input_ids=torch.tensor([example.input_ids])).logits[0]
            alone_sum += F.cross_entropy(out, torch.tensor(example.targets), ignore_index=IGNORE_INDEX, reduction="sum")
    assert batch["trained_tokens"] == sum(e.trained_tokens for e in examples)
    assert torch.allclose(packed_sum, alone_sum, rtol=1e-5), (packed_sum, alone_sum)

    # Without the block mask (position_ids only) examples leak into each other: the check above can fail.
    with torch.no_grad():
        leaky = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits
        leaky_sum = F.cross_entropy(leaky.reshape(-1, leaky.shape[-1]), batch["targets"].reshape(-1),
                                    ignore_index=IGNORE_INDEX, reduction="sum")
    assert not torch.allclose(leaky_sum, alone_sum, rtol=1e-5)


def test_epoch_order_is_deterministic_and_ranks_split_evenly(tokenizer):
    examples, _ = tokenize_quest(tokenizer, _rows(40), max_seq_len=128, min_mask_ratio=0, max_mask_ratio=1)
    packed = PackedQuest.build(examples, 128, packing=True)
    a = packed.epoch_micro_batches(0, 5, 2, shuffle=True)
    assert a == packed.epoch_micro_batches(0, 5, 2, shuffle=True)
    assert a != packed.epoch_micro_batches(1, 5, 2, shuffle=True)
    assert sorted(s for b in a for s in b) == list(range(len(packed.sequences)))
    r0 = packed.epoch_micro_batches(0, 5, 3, shuffle=True, world_size=2, rank=0)
    r1 = packed.epoch_micro_batches(0, 5, 3, shuffle=True, world_size=2, rank=1)
    assert len(r0) == len(r1)
    assert {s for b in r0 + r1 for s in b} == set(range(len(packed.sequences)))
    unpacked = PackedQuest.build(examples, 128, packing=False)
    assert len(unpacked.sequences) == len(examples) and unpacked.efficiency < packed.efficiency


def test_steps_by_examples_hold_exactly_that_many_examples_in_rows_that_fit(tokenizer):
    examples, _ = tokenize_quest(tokenizer, _rows(41), max_seq_len=160, min_mask_ratio=0, max_mask_ratio=1)
    packed = PackedQuest.build(examples, 160, packing=True)
    steps = packed.epoch_steps_by_examples(0, 5, 6, 2, shuffle=True)
    assert steps == packed.epoch_steps_by_examples(0, 5, 6, 2, shuffle=True)
    assert steps != packed.epoch_steps_by_examples(1, 5, 6, 2, shuffle=True)
    per_step = [[i for batch in step for row in batch for i in row] for step in steps]
    assert [len(s) for s in per_step] == [6] * 6 + [5]
    assert sorted(i for s in per_step for i in s) == list(range(41))
    rows = [row for step in steps for batch in step for row in batch]
    for step in steps:  # no row is wider than the step's longest example: the width an unpacked batch pads to
        longest = max(len(examples[i]) for batch in step for row in batch for i in row)
        assert all(sum(len(examples[i]) for i in row) <= longest for batch in step for row in batch)
    assert all(len(batch) <= 2 for step in steps for batch in step)
    assert len(rows) < 41  # packed: some rows hold several examples
    unpacked = PackedQuest.build(examples, 160, packing=False).epoch_steps_by_examples(0, 5, 6, 2, shuffle=False)
    assert [[row for batch in step for row in batch] for step in unpacked][0] == [[0], [1], [2], [3], [4], [5]]
