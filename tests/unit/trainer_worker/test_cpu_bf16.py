"""precision auto on a CPU: bf16 autocast only where the CPU has native bf16 matmuls, with attention kept in fp32
(the CPU flash-attention kernel's bf16 backward is slow); checkpoints stay plain fp32 models."""

from __future__ import annotations

import json
import random

import torch
from transformers import AutoModelForCausalLM

from services.trainer.worker import model as model_module
from services.trainer.worker.checkpoints import complete_checkpoints
from services.trainer.worker.config import build_training_config
from services.trainer.worker.model import FP32_SDPA, build_model, native_bf16
from services.trainer.worker.protocol import Job
from services.trainer.worker.recipe import TrainingRecipe


def quest(path, rows=32):
    rng = random.Random(1)
    with open(path, "w") as handle:
        for _ in range(rows):
            a, b = rng.randrange(8), rng.randrange(8)
            handle.write(json.dumps({"messages": [{"role": "user", "content": f"{a:b} + {b:b}"},
                                                  {"role": "assistant", "content": f"{a + b:b}"}]}) + "\n")
    return path


def run(tmp_path, hero, precision):
    config = build_training_config({}, {"max_seq_len": 64, "micro_batch_size": 4, "max_steps": 4,
                                        "learning_rate": 3e-3, "precision": precision})
    job = Job(quest="quests/q", campaign="campaigns/c", hero="heroes/tiny", model_dir=hero,
              dataset_path=quest(tmp_path / "quest.jsonl"), run_dir=tmp_path / "run", config=config)
    events = []
    recipe = TrainingRecipe(job, events.append)
    recipe.setup()
    assert recipe.train() == "completed"
    recipe.cleanup()
    return recipe, events, job


def test_auto_falls_back_to_fp32_on_a_cpu_without_native_bf16(tmp_path, tiny_hero_dir, monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not native_bf16(torch.device("cpu"))
    recipe, events, _ = run(tmp_path, tiny_hero_dir, "auto")
    assert events[0]["precision"] == "fp32"
    assert recipe.model.config._attn_implementation == "sdpa"


def test_auto_takes_bf16_on_a_cpu_with_native_bf16_and_keeps_attention_and_checkpoints_fp32(
        tmp_path, tiny_hero_dir, monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    recipe, events, job = run(tmp_path, tiny_hero_dir, "auto")
    assert events[0]["precision"] == "bf16"
    assert recipe.model.config._attn_implementation == FP32_SDPA
    assert all(p.dtype == torch.float32 for p in recipe.model.parameters())  # master weights
    final = complete_checkpoints(job.checkpoints_dir)[-1]
    saved = json.loads((final / "config.json").read_text())
    assert FP32_SDPA not in json.dumps(saved)
    # Anyone (the inference service) loads the checkpoint as a plain fp32 model with stock attention.
    loaded = AutoModelForCausalLM.from_pretrained(final)
    assert loaded.config._attn_implementation != FP32_SDPA and loaded.dtype == torch.float32


def test_fp32_attention_under_cpu_autocast_matches_plain_sdpa(tiny_hero_dir):
    cfg = build_training_config({}, {"precision": "bf16"})
    bf16_model = build_model(cfg, tiny_hero_dir, torch.device("cpu"), use_bf16=True, resume_from=None)
    plain = build_model(cfg, tiny_hero_dir, torch.device("cpu"), use_bf16=False, resume_from=None)
    assert bf16_model.config._attn_implementation == FP32_SDPA and plain.config._attn_implementation == "sdpa"
    query = torch.randn(2, 4, 7, 16, dtype=torch.bfloat16, requires_grad=True)
    key, value = torch.randn(2, 2, 7, 16, dtype=torch.bfloat16), torch.randn(2, 2, 7, 16, dtype=torch.bfloat16)
    mask = torch.zeros(2, 1, 7, 7).masked_fill(torch.ones(7, 7, dtype=torch.bool).triu(1), float("-inf"))
    layer = bf16_model.model.layers[0].self_attn
    from transformers import AttentionInterface

    attention = AttentionInterface._global_mapping[model_module._fp32_sdpa_attention()]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours, _ = attention(layer, query, key, value, mask, scaling=layer.scaling)
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    reference, _ = sdpa_attention_forward(layer, query.float(), key.float(), value.float(), mask,
                                          scaling=layer.scaling)
    assert ours.dtype == torch.bfloat16  # hands back the autocast dtype the next matmul expects
    torch.testing.assert_close(ours.float(), reference, rtol=1e-2, atol=1e-2)
    ours.float().sum().backward()
    assert query.grad is not None and torch.isfinite(query.grad).all()
