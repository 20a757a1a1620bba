from __future__ import annotations

import json
import time

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from realm_ops.tiny_hero import CHATML_TEMPLATE, IM_END, IM_START, build_tiny_hero


def test_tiny_hero_loads_with_plain_auto_classes(tmp_path):
    started = time.monotonic()
    out = build_tiny_hero(tmp_path / "hero", seed=3)
    assert time.monotonic() - started < 20
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert type(model).__name__ == "Qwen3ForCausalLM"
    params = sum(p.numel() for p in model.parameters())
    assert 300_000 < params < 2_000_000
    assert json.loads((out / "realm_hero.json").read_text())["parameter_count"] == params
    assert tokenizer.eos_token == IM_END
    assert tokenizer.pad_token is not None and tokenizer.pad_token != tokenizer.eos_token
    assert tokenizer.convert_tokens_to_ids(IM_START) != tokenizer.unk_token_id
    assert tokenizer.chat_template == CHATML_TEMPLATE
    assert len(tokenizer) <= model.config.vocab_size
    # A forward pass with the tokenizer's ids works.
    ids = tokenizer("101 + 11 = 1000", return_tensors="pt").input_ids
    assert model(ids).logits.shape[-1] == model.config.vocab_size


def test_tokenizer_splits_digits_and_round_trips_circled_digits(tiny_hero_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_hero_dir)
    text = "①⓪① + ① = ①①⓪ and 1011 + 1 = 1100"
    assert tokenizer.decode(tokenizer(text).input_ids) == text
    pieces = tokenizer.tokenize("1011")
    assert len(pieces) == 4  # one token per digit, as arithmetic needs
    assert len(tokenizer.tokenize("①⓪")) == 2


def test_chat_template_marks_every_assistant_turn(tiny_hero_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_hero_dir)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "1 + 1"},
        {"role": "assistant", "content": "10"},
        {"role": "user", "content": "10 + 1"},
        {"role": "assistant", "content": "11"},
    ]
    out = tokenizer.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
    trained = [i for i, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]
    assert tokenizer.decode(trained) == f"10{IM_END}11{IM_END}"
    prompt = tokenizer.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith(f"{IM_START}assistant\n")


def test_build_is_deterministic_for_a_seed(tmp_path):
    a = build_tiny_hero(tmp_path / "a", hidden_size=32, num_layers=1, vocab_size=400, seed=7)
    b = build_tiny_hero(tmp_path / "b", hidden_size=32, num_layers=1, vocab_size=400, seed=7)
    c = build_tiny_hero(tmp_path / "c", hidden_size=32, num_layers=1, vocab_size=400, seed=8)
    wa, wb, wc = (load_file(d / "model.safetensors") for d in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert (a / "tokenizer.json").read_text() == (b / "tokenizer.json").read_text()


def test_module_entrypoint_builds_a_hero(tmp_path, capsys):
    from realm_ops.tiny_hero import main

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"{i:b} + 1 = {i + 1:b}" for i in range(200)))
    main([str(tmp_path / "h"), "--hidden-size", "32", "--num-layers", "1", "--vocab-size", "300",
          "--corpus", str(corpus)])
    assert capsys.readouterr().out.strip() == str(tmp_path / "h")
    assert AutoTokenizer.from_pretrained(tmp_path / "h").chat_template == CHATML_TEMPLATE
