from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from services.kit.errors import InvalidArgument
from services.trainer.memory import LoraShape, ModelShape, estimate_memory

REPO = Path(__file__).resolve().parents[3]
QWEN3_06B = {  # Qwen3-0.6B's config.json (architecture numbers only)
    "hidden_size": 1024, "num_hidden_layers": 28, "vocab_size": 151936, "num_attention_heads": 16,
    "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 3072, "tie_word_embeddings": True,
}


def test_parameter_counts_match_the_real_model(tiny_hero_dir):
    shape = ModelShape.from_model_dir(tiny_hero_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_hero_dir)
    assert shape.parameters == sum(p.numel() for p in model.parameters())
    lora = LoraShape(rank=4, target_modules=("q_proj", "v_proj", "down_proj"))
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=list(lora.target_modules)))
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert estimate_memory(shape, lora=lora).trainable_parameters == trainable
    # Qwen3-0.6B: about 0.6 B parameters (0.44 B without the tied embedding).
    assert 590e6 < ModelShape.from_hf_config(QWEN3_06B).parameters < 610e6


def test_formulas_for_a_known_case():
    shape = ModelShape.from_hf_config(QWEN3_06B)
    p = shape.parameters
    full = estimate_memory(shape, precision="bf16", optimizer="adamw", micro_batch_size=1, sequence_length=1024)
    assert full.component("weights").bytes == 4 * p
    assert full.component("gradients").bytes == 4 * p
    assert full.component("optimizer").bytes == 8 * p
    per_token_layer = 6 * 1024 + 2 * (2048 + 2 * 1024) + 4 * 3072
    expected_act = 1024 * 28 * per_token_layer * 2 + 1024 * 151936 * 10 + 4 * 1024**2
    assert full.component("activations").bytes == expected_act
    assert full.total_bytes == int(sum(c.bytes for c in full.components))
    assert 9 < full.total_gib < 14
    qlora = estimate_memory(shape, precision="nf4", lora=LoraShape(16), micro_batch_size=1, sequence_length=1024)
    assert qlora.component("weights").bytes < 0.6 * p
    assert qlora.total_bytes < full.total_bytes / 3


def test_each_knob_moves_the_right_component():
    shape = ModelShape.from_hf_config(QWEN3_06B)
    base = estimate_memory(shape, micro_batch_size=4, sequence_length=2048)
    ckpt = estimate_memory(shape, micro_batch_size=4, sequence_length=2048, gradient_checkpointing=True)
    # (the 152 k-entry logits, which checkpointing does not shrink, are about half of it here)
    assert ckpt.component("activations").bytes < 0.6 * base.component("activations").bytes
    assert ckpt.component("weights") == base.component("weights")
    eight = estimate_memory(shape, optimizer="adamw_8bit", micro_batch_size=4, sequence_length=2048)
    assert eight.component("optimizer").bytes * 4 == base.component("optimizer").bytes
    muon = estimate_memory(shape, optimizer="muon", micro_batch_size=4, sequence_length=2048)
    assert eight.component("optimizer").bytes < muon.component("optimizer").bytes < base.component("optimizer").bytes
    lora = estimate_memory(shape, lora=LoraShape(8), micro_batch_size=4, sequence_length=2048)
    assert lora.component("gradients").bytes < base.component("gradients").bytes / 100
    bigger = estimate_memory(shape, micro_batch_size=8, sequence_length=2048)
    assert bigger.component("activations").bytes > 1.9 * base.component("activations").bytes


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"precision": "fp8"}, "precision"),
        ({"optimizer": "adam"}, "optimizer"),
        ({"precision": "nf4"}, "precision"),
        ({"micro_batch_size": 0}, "micro_batch_size"),
        ({"lora": LoraShape(4, ("qkv",))}, "lora.target_modules"),
    ],
)
def test_bad_inputs_name_the_field(kwargs, field):
    with pytest.raises(InvalidArgument) as caught:
        estimate_memory(ModelShape.from_hf_config(QWEN3_06B), **kwargs)
    assert caught.value.field == field
    with pytest.raises(InvalidArgument) as caught:
        ModelShape.from_hf_config({**QWEN3_06B, "hidden_size": 0})
    assert caught.value.field == "hidden_size"


PROBE = textwrap.dedent(
    """
    import json, sys
    import torch
    import torch.nn.functional as F
    from transformers import Qwen3Config, Qwen3ForCausalLM
    from services.trainer.memory import ModelShape, estimate_memory
    torch.set_num_threads(1)
    batch, seq, checkpointing = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
    config = Qwen3Config(vocab_size=4096, hidden_size=256, intermediate_size=768, num_hidden_layers=6,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=64, tie_word_embeddings=True)
    ids = torch.randint(0, 4096, (batch, seq))
    mask = torch.zeros(batch, 1, seq, seq)
    mask.masked_fill_(~torch.ones(seq, seq, dtype=torch.bool).tril(), torch.finfo(torch.float32).min)
    def status_kib(key):
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    # Reset the high-water mark to the current RSS (Linux >= 4.0), so import-time spikes are not counted.
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    peak = lambda: status_kib("VmHWM")
    before = status_kib("VmRSS")
    model = Qwen3ForCausalLM(config)
    model.config.use_cache = False
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    optimizer = torch.optim.AdamW(model.parameters())
    for _ in range(2):
        logits = model(input_ids=ids, attention_mask=mask).logits
        F.cross_entropy(logits.float().reshape(-1, 4096), ids.reshape(-1)).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    estimate = estimate_memory(ModelShape.from_hf_config(config.to_dict()), precision="fp32", micro_batch_size=batch,
                               sequence_length=seq, gradient_checkpointing=checkpointing, attention="math")
    print(json.dumps({"measured": peak() - before, "estimate": estimate.total_bytes}))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("case", [("4", "256", "0"), ("4", "256", "1")], ids=["plain", "grad-checkpointing"])
def test_estimate_is_close_to_the_measured_cpu_peak(case):
    out = subprocess.run([sys.executable, "-c", PROBE, *case], cwd=REPO, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    ratio = figures["estimate"] / figures["measured"]
    assert 0.7 < ratio < 1.3, figures
