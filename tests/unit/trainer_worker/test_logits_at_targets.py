"""The recipe computes logits only at trained positions: same loss and same gradients as full logits."""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from services.trainer.worker.model import accepts_logits_to_keep, trained_positions
from services.trainer.worker.packing import IGNORE_INDEX, PackedQuest, tokenize_quest


def rows(n: int, seed: int = 0):
    rng = random.Random(seed)
    out = []
    for line in range(1, n + 1):
        a, b = rng.randrange(64), rng.randrange(64)
        out.append((line, {"messages": [{"role": "system", "content": "Add the numbers in binary."},
                                        {"role": "user", "content": f"{a:b} + {b:b}"},
                                        {"role": "assistant", "content": f"{a + b:b}"}]}))
    return out


def loss_and_grads(model, batch, positions=None):
    model.zero_grad(set_to_none=True)
    targets, keep = batch["targets"], {}
    if positions is not None:
        targets, keep = targets[:, positions], {"logits_to_keep": positions}
    logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                   attention_mask=batch["attention_mask"], use_cache=False, **keep).logits
    loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=IGNORE_INDEX, reduction="sum")
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}, logits


def test_logits_at_trained_positions_give_the_full_loss_and_gradients(tiny_hero_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_hero_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_hero_dir, dtype=torch.float32)
    assert accepts_logits_to_keep(model)
    examples, _ = tokenize_quest(tokenizer, rows(10), max_seq_len=128, min_mask_ratio=0, max_mask_ratio=1)
    packed = PackedQuest.build(examples, 128, packing=True)
    batch = packed.collate(list(range(len(packed.sequences))), pad_token_id=tokenizer.pad_token_id)
    positions = trained_positions(batch["targets"])
    assert 0 < positions.numel() < batch["targets"].shape[1]  # really fewer positions than the rows are long
    full_loss, full_grads, full_logits = loss_and_grads(model, batch)
    kept_loss, kept_grads, kept_logits = loss_and_grads(model, batch, positions)
    assert kept_logits.shape[1] == positions.numel() < full_logits.shape[1]
    assert torch.allclose(kept_loss, full_loss, rtol=1e-5)
    assert full_grads.keys() == kept_grads.keys()
    for name, grad in full_grads.items():
        assert torch.allclose(kept_grads[name], grad, rtol=1e-4, atol=1e-7), name


def test_a_micro_batch_without_targets_still_keeps_one_position():
    assert trained_positions(torch.full((2, 8), IGNORE_INDEX)).tolist() == [0]
    targets = torch.full((2, 6), IGNORE_INDEX)
    targets[0, 4], targets[1, 1] = 7, 9
    assert trained_positions(targets).tolist() == [1, 4]
