from __future__ import annotations

import torch

from services.inference.params import GenerationLimits, SamplingParams
from services.inference.sampling import IncrementalDetokenizer, RowSampler, find_stop

LIMITS = GenerationLimits()


def sampler(**kwargs) -> RowSampler:
    return RowSampler.for_params(SamplingParams.build(LIMITS, **kwargs), torch.device("cpu"))


def test_top_k_one_and_tiny_top_p_are_greedy():
    logits = torch.randn(50, generator=torch.Generator().manual_seed(0))
    best = int(logits.argmax())
    for _ in range(20):
        assert sampler(temperature=1.0, top_k=1).choose(logits, torch.empty(0, dtype=torch.long)) == best
        assert sampler(temperature=1.0, top_p=1e-6).choose(logits, torch.empty(0, dtype=torch.long)) == best


def test_top_k_restricts_the_support():
    logits = torch.randn(50, generator=torch.Generator().manual_seed(1))
    allowed = set(torch.topk(logits, 3).indices.tolist())
    row = sampler(temperature=5.0, top_k=3, seed=9)
    picks = {row.choose(logits, torch.empty(0, dtype=torch.long)) for _ in range(200)}
    assert picks <= allowed and len(picks) > 1


def test_seed_makes_draws_repeatable():
    logits = torch.zeros(100)
    first = [sampler(temperature=1.0, seed=5).choose(logits, torch.empty(0, dtype=torch.long)) for _ in range(3)]
    row = sampler(temperature=1.0, seed=5)
    again = [row.choose(logits, torch.empty(0, dtype=torch.long)) for _ in range(3)]
    assert first[0] == again[0] and len(set(again)) > 1


def test_repetition_penalty_like_transformers():
    logits = torch.tensor([2.0, -1.0, 1.9, 0.5])
    seen = torch.tensor([0, 1])
    # token 0 (2.0 -> 1.0) drops below token 2 (1.9); token 1 (-1 -> -2) is pushed further down
    assert sampler(repetition_penalty=2.0).choose(logits, seen) == 2
    assert sampler().choose(logits, seen) == 0


def test_find_stop_only_looks_where_new_text_can_complete_a_match():
    assert find_stop("hello world", ("wor",), new_chars=3) == 6
    assert find_stop("hello world", ("hello",), new_chars=1) == -1  # matched earlier, not by the new char
    assert find_stop("abcabc", ("bc", "ca"), new_chars=6) == 1


class ByteTokenizer:
    """Decodes ids as raw UTF-8 bytes, like a byte-level BPE whose tokens split a character."""

    def decode(self, ids, skip_special_tokens=True, clean_up_tokenization_spaces=False):
        return bytes(ids).decode("utf-8", errors="replace")


def test_detokenizer_holds_back_incomplete_characters():
    detok = IncrementalDetokenizer(ByteTokenizer())
    pieces = [detok.add(b) for b in "a€b".encode()]
    assert pieces == ["a", "", "", "€", "b"]
    assert "".join(pieces) == detok.full_text() == "a€b"
