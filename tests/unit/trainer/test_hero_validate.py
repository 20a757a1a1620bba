"""`realm hero validate` on the real hero files (heroes/qwen3-0.6b.yaml, heroes/qwen3-4b.yaml) against config.json
fixtures with Qwen3's published architecture numbers, no weights: the shape, the checks, the memory estimate within
5 % of a figure computed here by hand, the GPU class, and the CUDA-only requirements on this CPU host.

The hand computation (the formula services/trainer/memory.py documents, written out with the numbers):
  parameters P = V h (tied embeddings) + L (h q + 2 h kv + q h + 3 h I + 2 h + 2 head_dim) + h
  weights 4 P (fp32 master weights, bf16 autocast)   gradients 4 P   AdamW 8 P | paged 8-bit AdamW 2 P
  activations B S L (6 h + 2 (q + 2 kv) + 4 I) x 2 bytes, or with gradient checkpointing B S (L h + that) x 2
  + logits B S V (2 + 8) + block mask 4 B S^2;   total x 1.1 (allocator, temporaries)
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from services.kit.errors import FailedPrecondition, NotFound
from services.trainer.hero_check import GPU_CLASSES, validate_hero
from services.trainer.heroes import HeroRegistry
from services.trainer.worker.config import build_training_config
from services.trainer.worker.optim import build_optimizers

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "hf_configs"
GIB = 1024**3
HEROES = HeroRegistry(REPO / "heroes", root=REPO)


def hand_parameters(*, vocab, hidden, layers, heads, kv_heads, head_dim, intermediate) -> int:
    q, kv = heads * head_dim, kv_heads * head_dim
    per_layer = hidden * q + 2 * hidden * kv + q * hidden + 3 * hidden * intermediate + 2 * hidden + 2 * head_dim
    return vocab * hidden + layers * per_layer + hidden


QWEN3_0_6B = dict(vocab=151936, hidden=1024, layers=28, heads=16, kv_heads=8, head_dim=128, intermediate=3072)
QWEN3_4B = dict(vocab=151936, hidden=2560, layers=36, heads=32, kv_heads=8, head_dim=128, intermediate=9728)


def test_parameter_counts_by_hand_match_the_published_sizes():
    assert hand_parameters(**QWEN3_0_6B) == 596_049_920  # "0.6B" (0.44B without the embedding)
    assert hand_parameters(**QWEN3_4B) == 4_022_468_096  # "4.0B" (3.6B without the embedding)


def test_qwen3_0_6b_hero_against_its_config_json():
    report = validate_hero(HEROES, "heroes/qwen3-0.6b", model_dir=str(FIXTURES / "qwen3-0.6b"))
    assert report.valid, report.findings
    shape = report.shape
    assert (shape.hidden_size, shape.num_layers, shape.num_attention_heads, shape.num_key_value_heads,
            shape.head_dim, shape.intermediate_size, shape.vocab_size, shape.tie_word_embeddings) == \
        (1024, 28, 16, 8, 128, 3072, 151936, True)
    assert report.parameter_count == 596_049_920 and report.parameter_source == "config.json shape"
    training = report.training
    assert (training.precision, training.optimizer, training.micro_batch_size, training.max_seq_len,
            training.gradient_checkpointing, training.lora_enabled) == ("bf16", "adamw", 1, 2048, False, False)

    # By hand: P = 596,049,920; B = 1, S = 2048, L = 28, h = 1024, q = 2048, kv = 1024, I = 3072, V = 151,936.
    p = 596_049_920
    weights, gradients, adamw = 4 * p, 4 * p, 8 * p                       # 2.38 GB + 2.38 GB + 4.77 GB
    activations = 1 * 2048 * 28 * (6 * 1024 + 2 * (2048 + 2 * 1024) + 4 * 3072) * 2   # 3.05 GB
    logits = 1 * 2048 * 151_936 * (2 + 8)                                    # 3.11 GB
    mask = 4 * 1 * 2048**2
    hand = 1.1 * (weights + gradients + adamw + activations + logits + mask)  # = 17.29 GB = 16.1 GiB
    assert report.estimate.total_bytes == pytest.approx(hand, rel=0.05)
    assert report.smallest_fit == "24 GB"
    assert [f.fits for f in report.fits] == [True, True, True, True]
    assert report.requirements == () and report.trainable_here


def test_qwen3_0_6b_with_muon_is_estimated_with_muon_states(tmp_path):
    doc = yaml.safe_load((REPO / "heroes" / "qwen3-0.6b.yaml").read_text())
    doc["optimizer"]["kind"] = "muon"  # the hero file's documented alternative
    (tmp_path / "heroes").mkdir()
    (tmp_path / "heroes" / "qwen3-0.6b.yaml").write_text(yaml.safe_dump(doc))
    report = validate_hero(HeroRegistry(tmp_path / "heroes", root=REPO), "heroes/qwen3-0.6b",
                           model_dir=str(FIXTURES / "qwen3-0.6b"))
    matrices = 28 * (1024 * 2048 + 2 * 1024 * 1024 + 2048 * 1024 + 3 * 1024 * 3072)  # Muon: one fp32 momentum
    others = 596_049_920 - matrices                                                 # AdamW: two fp32 moments
    assert report.estimate.component("optimizer").bytes == 4 * matrices + 8 * others
    assert report.training.optimizer == "muon" and report.valid


def test_qwen3_4b_hero_against_its_config_json():
    report = validate_hero(HEROES, "heroes/qwen3-4b", model_dir=str(FIXTURES / "qwen3-4b"))
    assert report.valid, report.findings
    shape = report.shape
    assert (shape.hidden_size, shape.num_layers, shape.num_attention_heads, shape.num_key_value_heads,
            shape.head_dim, shape.intermediate_size, shape.vocab_size, shape.tie_word_embeddings) == \
        (2560, 36, 32, 8, 128, 9728, 151936, True)
    assert report.parameter_count == 4_022_468_096
    training = report.training
    assert (training.optimizer, training.use_liger_kernel, training.gradient_checkpointing, training.precision,
            training.lora_enabled) == ("paged_adamw_8bit", True, True, "bf16", False)

    # By hand: P = 4,022,468,096; B = 1, S = 4096, L = 36, h = 2560, q = 4096, kv = 1024, I = 9728.
    p = 4_022_468_096
    weights, gradients, paged_8bit = 4 * p, 4 * p, 2 * p                   # 16.1 + 16.1 + 8.0 GB
    per_layer = 6 * 2560 + 2 * (4096 + 2 * 1024) + 4 * 9728                  # 66,560 elements per token
    activations = 1 * 4096 * (36 * 2560 + per_layer) * 2                     # checkpointing: 1.30 GB
    logits = 1 * 4096 * 151_936 * (2 + 8)                                    # 6.22 GB
    mask = 4 * 1 * 4096**2
    hand = 1.1 * (weights + gradients + paged_8bit + activations + logits + mask)  # = 52.6 GB = 49.0 GiB
    assert report.estimate.total_bytes == pytest.approx(hand, rel=0.05)
    assert report.smallest_fit == "80 GB"
    assert [f.fits for f in report.fits] == [False, False, True, True]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the gating on a host without CUDA")
def test_qwen3_4b_cuda_only_features_are_reported_and_refused_on_this_cpu_host():
    report = validate_hero(HEROES, "heroes/qwen3-4b", model_dir=str(FIXTURES / "qwen3-4b"))
    by_package = {r.package: r for r in report.requirements}
    assert set(by_package) == {"bitsandbytes", "liger_kernel"}
    for package, requirement in by_package.items():
        assert not requirement.satisfied and "a CUDA GPU" in requirement.message
        assert (f"the {package} package (not installed)" in requirement.message) is \
            (importlib.util.find_spec(package) is None)
    assert report.valid and not report.trainable_here  # valid for a GPU host, not trainable here
    assert {f.field for f in report.findings if not f.error} == {"optimizer (paged_adamw_8bit)", "use_liger_kernel"}

    # The worker itself refuses the hero's optimizer with the same reason, before any step.
    config = build_training_config(HEROES.get("heroes/qwen3-4b").config_defaults(), {})
    with pytest.raises(FailedPrecondition) as caught:
        build_optimizers(torch.nn.Linear(2, 2), config)
    assert caught.value.field == "optimizer"
    assert "CUDA" in caught.value.message and "bitsandbytes" in caught.value.message


def test_problems_are_named(tmp_path):
    missing = validate_hero(HEROES, "heroes/qwen3-0.6b", model_dir=str(tmp_path / "nowhere"))
    assert not missing.valid and [f.field for f in missing.findings] == ["model_dir"]
    assert "never downloads" in missing.findings[0].message

    broken = tmp_path / "broken"
    shutil.copytree(FIXTURES / "qwen3-0.6b", broken)
    config = json.loads((broken / "config.json").read_text())
    config.update(model_type="llama", vocab_size=151_000, max_position_embeddings=1024)
    (broken / "config.json").write_text(json.dumps(config))
    template = json.loads((broken / "tokenizer_config.json").read_text())
    del template["chat_template"]
    (broken / "tokenizer_config.json").write_text(json.dumps(template))
    report = validate_hero(HEROES, "heroes/qwen3-0.6b", model_dir=str(broken))
    errors = {f.field for f in report.findings if f.error}
    assert errors == {"architecture", "tokenizer", "chat_template", "training_defaults.max_seq_len"}
    assert not report.valid

    (broken / "tokenizer.json").unlink()
    assert "tokenizer" in {f.field for f in validate_hero(HEROES, "heroes/qwen3-0.6b", model_dir=str(broken)).findings}
    with pytest.raises(NotFound):
        validate_hero(HEROES, "heroes/ghost")


def test_gpu_classes_are_ordered_by_memory():
    assert [g.name for g in GPU_CLASSES] == ["24 GB", "48 GB", "80 GB", "141 GB"]
    assert [g.memory_bytes for g in GPU_CLASSES] == sorted(g.memory_bytes for g in GPU_CLASSES)
    assert GPU_CLASSES[0].memory_bytes == 24 * GIB


@pytest.mark.parametrize("model_dir", ["a\x00b", "~no-such-user-zz/models"])
def test_a_model_dir_that_cannot_name_a_directory_is_invalid_argument(model_dir):
    from services.kit.errors import InvalidArgument

    with pytest.raises(InvalidArgument) as caught:
        validate_hero(HEROES, "heroes/qwen3-0.6b", model_dir=model_dir)
    assert caught.value.field == "model_dir"
