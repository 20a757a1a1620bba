from __future__ import annotations

import json
import random
import shutil

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from services.kit.errors import FailedPrecondition, InvalidArgument
from services.trainer.worker.checkpoints import STATE_DIR, complete_checkpoints, read_state, sha256_text
from services.trainer.worker.config import build_training_config
from services.trainer.worker.model import native_bf16
from services.trainer.worker.optim import build_optimizers, lr_multiplier
from services.trainer.worker.packing import MaskingError
from services.trainer.worker.protocol import Job, job_from_dict
from services.trainer.worker.recipe import TrainingRecipe


def write_quest(path, rows=48, seed=0):
    rng = random.Random(seed)
    with open(path, "w") as handle:
        for _ in range(rows):
            a, b = rng.randrange(8), rng.randrange(8)
            messages = [
                {"role": "system", "content": "Add."},
                {"role": "user", "content": f"{a:b} + {b:b}"},
                {"role": "assistant", "content": f"{a + b:b}"},
            ]
            handle.write(json.dumps({"messages": messages}) + "\n")
    return path


def make_job(tmp_path, hero, **config):
    base = {"max_seq_len": 64, "micro_batch_size": 4, "max_steps": 6, "learning_rate": 3e-3}
    base.update(config)
    return Job(quest="quests/q", campaign="campaigns/c", hero="heroes/tiny", model_dir=hero,
               dataset_path=write_quest(tmp_path / "quest.jsonl"), run_dir=tmp_path / "run",
               config=build_training_config({}, base))


def run_recipe(job):
    events = []
    recipe = TrainingRecipe(job, events.append)
    recipe.setup()
    outcome = recipe.train()
    recipe.cleanup()
    return outcome, events


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    cfg = build_training_config({}, {"warmup_steps": 4, "lr_schedule": "cosine", "min_lr_ratio": 0.1})
    values = [lr_multiplier(s, cfg, 20) for s in range(21)]
    assert values[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in zip(values[3:], values[4:], strict=False))
    assert values[20] == pytest.approx(0.1)
    linear = build_training_config({}, {"lr_schedule": "linear", "min_lr_ratio": 0.0})
    assert lr_multiplier(5, linear, 10) == pytest.approx(0.5)
    assert lr_multiplier(7, build_training_config({}, {"lr_schedule": "constant"}), 10) == 1.0


def test_campaign_scope_continues_the_decay_across_quests_instead_of_restarting():
    cfg = build_training_config({}, {"warmup_steps": 2, "lr_schedule": "cosine", "min_lr_ratio": 0.1,
                                     "lr_scope": "campaign", "lr_decay_steps": 100})
    first_quest = [lr_multiplier(s, cfg, 50, step_offset=0) for s in range(50)]
    second_quest = [lr_multiplier(s, cfg, 50, step_offset=50) for s in range(50)]
    # The second quest warms up to where the first one left off, not back to the peak.
    assert second_quest[1] == pytest.approx(lr_multiplier(51, cfg, 200), rel=1e-9)
    assert max(second_quest) < first_quest[10]
    assert lr_multiplier(0, cfg, 50, step_offset=150) == pytest.approx(0.1 / 2)  # past the span: floor, warming
    quest_scope = build_training_config({}, {"warmup_steps": 2, "lr_schedule": "cosine", "min_lr_ratio": 0.1})
    assert lr_multiplier(25, quest_scope, 50, step_offset=50) == lr_multiplier(25, quest_scope, 50)


def test_inverse_sqrt_decays_smoothly_with_its_time_scale():
    cfg = build_training_config({}, {"lr_schedule": "inverse_sqrt", "min_lr_ratio": 0.0, "lr_scope": "campaign",
                                     "lr_decay_steps": 100})
    assert lr_multiplier(0, cfg, 10) == 1.0
    assert lr_multiplier(0, cfg, 10, step_offset=300) == pytest.approx(0.5)
    values = [lr_multiplier(s, cfg, 10, step_offset=o) for o in (0, 10, 20) for s in range(10)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))


@pytest.mark.parametrize("overrides", [{"lr_scope": "campaign"}, {"lr_schedule": "inverse_sqrt"}])
def test_a_decay_over_given_steps_needs_them(overrides):
    with pytest.raises(InvalidArgument, match="lr_decay_steps"):
        build_training_config({}, overrides)


def test_configs_without_the_scope_keep_their_hash():
    from services.trainer.worker.config import config_hash

    plain = build_training_config({}, {})
    assert config_hash(plain) == config_hash(build_training_config({}, {"lr_scope": "quest"}))
    assert config_hash(plain) != config_hash(build_training_config({}, {"lr_scope": "campaign", "lr_decay_steps": 9}))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU gating")
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"optimizer": "adamw_8bit"}, "optimizer"),
        ({"optimizer": "paged_adamw_8bit"}, "optimizer"),
        ({"use_liger_kernel": True}, "use_liger_kernel"),
        ({"lora_enabled": True, "lora_quantize_base_4bit": True}, "lora_quantize_base_4bit"),
    ],
)
def test_cuda_only_features_fail_cleanly_on_cpu(tmp_path, tiny_hero_dir, overrides, field):
    job = make_job(tmp_path, tiny_hero_dir, **overrides)
    with pytest.raises(FailedPrecondition) as caught:
        run_recipe(job)
    assert caught.value.field == field
    assert "CUDA" in caught.value.message


def test_muon_splits_hidden_matrices_from_the_rest(tiny_hero_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_hero_dir)
    adamw, muon = build_optimizers(model, build_training_config({}, {"optimizer": "muon"}))
    assert isinstance(muon, torch.optim.Muon) and isinstance(adamw, torch.optim.AdamW)
    muon_params = {id(p) for g in muon.param_groups for p in g["params"]}
    names = {n for n, p in model.named_parameters() if id(p) in muon_params}
    assert names and all(model.get_parameter(n).ndim == 2 and "embed" not in n for n in names)
    assert id(model.model.embed_tokens.weight) not in muon_params


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"optimizer": "muon", "muon_learning_rate": 0.02},
        {"gradient_checkpointing": True, "gradient_accumulation_steps": 2, "micro_batch_size": 2},
        {"optimizer": "sgd", "lr_schedule": "linear", "warmup_steps": 2, "learning_rate": 0.05},
        {"precision": "bf16"},
    ],
    ids=["adamw", "muon", "grad-ckpt+accum", "sgd", "bf16-autocast"],
)
def test_training_lowers_the_loss(tmp_path, tiny_hero_dir, overrides):
    job = make_job(tmp_path, tiny_hero_dir, max_steps=12, **overrides)
    outcome, events = run_recipe(job)
    assert outcome == "completed"
    losses = [e["loss"] for e in events if e["event"] == "step"]
    assert len(losses) == 12
    assert losses[-1] < losses[0] * 0.8, losses
    assert events[-1]["event"] == "completed"
    # precision auto: bf16 autocast wherever bf16 matmuls are native, this CPU included.
    native = native_bf16(torch.device("cpu"))
    assert events[0]["precision"] == ("bf16" if overrides.get("precision") == "bf16" or native else "fp32")


def test_lora_checkpoint_is_a_plain_merged_model(tmp_path, tiny_hero_dir):
    job = make_job(tmp_path, tiny_hero_dir, lora_enabled=True, lora_rank=4, lora_alpha=8, learning_rate=1e-2,
                   lora_target_modules=["q_proj", "v_proj", "up_proj"])
    outcome, events = run_recipe(job)
    assert outcome == "completed"
    started = events[0]
    assert started["trainable_parameters"] < started["parameters"] / 5
    (final,) = complete_checkpoints(job.checkpoints_dir)
    weights = load_file(final / "model.safetensors")
    assert not any("lora" in k or "base_layer" in k for k in weights)
    base = load_file(tiny_hero_dir / "model.safetensors")
    changed = [k for k in base if not torch.equal(base[k], weights[k])]
    assert changed and all(any(m in k for m in ("q_proj", "v_proj", "up_proj")) for k in changed)
    model = AutoModelForCausalLM.from_pretrained(final)
    assert model(torch.tensor([[1, 2, 3]])).logits.shape[-1] == model.config.vocab_size
    assert (final / STATE_DIR / "adapter" / "adapter_config.json").is_file()


def test_checkpoint_holds_full_trainer_state(tmp_path, tiny_hero_dir):
    job = make_job(tmp_path, tiny_hero_dir, max_steps=5, checkpoint_every_steps=2)
    outcome, events = run_recipe(job)
    names = [p.name for p in complete_checkpoints(job.checkpoints_dir)]
    assert names == ["step-00000002", "step-00000004", "step-00000005"]
    assert not [p for p in job.checkpoints_dir.iterdir() if p.name.startswith(".tmp-")]
    state = read_state(job.checkpoints_dir / "step-00000004")
    assert state["quest_step"] == 4 and state["global_step"] == 4 and state["quest_steps_total"] == 5
    position = state["data_position"]
    per_epoch = events[0]["steps_per_epoch"]
    assert position["epoch"] * per_epoch + position["step_in_epoch"] == 4
    assert position["next_micro_batch"] == position["step_in_epoch"]  # one micro-batch per step
    for name in ("optimizer.pt", "scheduler.pt", "rng.pt"):
        assert (job.checkpoints_dir / "step-00000004" / STATE_DIR / name).is_file()
    saved = [e for e in events if e["event"] == "checkpoint_saved"]
    assert [e["quest_step"] for e in saved] == [2, 4, 5]
    assert all(len(e["config_hash"]) == 64 and len(e["tokenizer_hash"]) == 64 for e in saved)
    assert (job.checkpoints_dir / "step-00000005" / "chat_template.jinja").is_file()


@pytest.mark.parametrize(
    "overrides",
    [
        {"warmup_steps": 2},
        {"optimizer": "muon"},
        {"lora_enabled": True, "lora_rank": 4, "learning_rate": 1e-2},
        {"gradient_accumulation_steps": 2, "micro_batch_size": 2, "epochs": 2, "max_steps": 0},
        {"examples_per_step": 5, "micro_batch_size": 1, "epochs": 2, "max_steps": 0},
    ],
    ids=["adamw+warmup", "muon", "lora", "accum+epochs", "examples_per_step"],
)
def test_resume_from_a_mid_quest_checkpoint_reproduces_the_run(tmp_path, tiny_hero_dir, overrides):
    settings = {"max_steps": 6, "checkpoint_every_steps": 3, **overrides}
    reference_job = make_job(tmp_path, tiny_hero_dir, **settings)
    _, reference = run_recipe(reference_job)
    reference_losses = {e["quest_step"]: e["loss"] for e in reference if e["event"] == "step"}
    total = max(reference_losses)
    middle = [p for p in complete_checkpoints(reference_job.checkpoints_dir) if read_state(p)["quest_step"] == 3][0]

    # A fresh run dir holding only the mid-quest checkpoint, as after a crash.
    resumed_dir = tmp_path / "again"
    shutil.copytree(middle, resumed_dir / "run" / "checkpoints" / middle.name)
    job = make_job(resumed_dir, tiny_hero_dir, **settings)
    job = Job(**{**job.__dict__, "resume": True})
    _, events = run_recipe(job)
    assert events[0]["resumed_from"] == str(resumed_dir / "run" / "checkpoints" / middle.name)
    losses = {e["quest_step"]: e["loss"] for e in events if e["event"] == "step"}
    assert sorted(losses) == list(range(4, total + 1))
    for step, loss in losses.items():
        assert loss == pytest.approx(reference_losses[step], rel=1e-5), step
    lrs = [e["learning_rate"] for e in events if e["event"] == "step"]
    assert lrs == pytest.approx([e["learning_rate"] for e in reference if e["event"] == "step"][3:])


def test_resume_refuses_a_changed_config(tmp_path, tiny_hero_dir):
    run_recipe(make_job(tmp_path, tiny_hero_dir, max_steps=2))
    job = make_job(tmp_path, tiny_hero_dir, max_steps=2, learning_rate=1e-4)
    with pytest.raises(FailedPrecondition) as caught:
        run_recipe(Job(**{**job.__dict__, "resume": True}))
    assert caught.value.field == "config"


def test_job_chat_template_replaces_the_tokenizers_and_is_checked(tmp_path, tiny_hero_dir):
    template = (  # plain ChatML without a generation block: spans come from turn-by-turn rendering
        "{%- for m in messages -%}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor -%}"
        "{%- if add_generation_prompt -%}<|im_start|>assistant\n{% endif -%}"
    )
    job = make_job(tmp_path, tiny_hero_dir, max_steps=1)
    job = job_from_dict({**job.to_dict(), "chat_template": template})
    outcome, events = run_recipe(job)
    assert outcome == "completed"
    saved = [e for e in events if e["event"] == "checkpoint_saved"][0]
    assert (job.checkpoints_dir / "step-00000001" / "chat_template.jinja").read_text() == template
    assert saved["chat_template_hash"] == sha256_text(template)
    leaky = job_from_dict({**job.to_dict(), "run_dir": str(tmp_path / "run2"),
                           "chat_template": "{% for m in messages %}{% generation %}{{ m['content'] }}"
                                            "{% endgeneration %}{% endfor %}"})
    with pytest.raises(MaskingError):
        run_recipe(leaky)


def test_pause_survives_the_service_trimming_local_checkpoints(tmp_path, tiny_hero_dir):
    job = make_job(tmp_path, tiny_hero_dir, max_steps=10, checkpoint_every_steps=2)
    events = []

    def emit(event):
        events.append(event)
        if event["event"] == "checkpoint_saved" and event["quest_step"] == 2:
            shutil.rmtree(event["path"])  # the vault confirmed it; the service trims the local copy
            job.control_path.write_text("pause")

    recipe = TrainingRecipe(job, emit)
    recipe.setup()
    assert recipe.train() == "paused"
    assert events[-1]["event"] == "paused" and events[-1]["quest_step"] == 2
    assert [e["event"] for e in events].count("checkpoint_saved") == 1


def test_a_non_finite_loss_fails_before_the_update(tmp_path, tiny_hero_dir):
    job = make_job(tmp_path, tiny_hero_dir, max_steps=3)
    recipe = TrainingRecipe(job, lambda event: None)
    recipe.setup()
    with torch.no_grad():
        recipe.model.model.norm.weight.fill_(float("nan"))
    before = {k: v.clone() for k, v in recipe.model.state_dict().items() if "norm" not in k}
    with pytest.raises(FloatingPointError, match="quest step 1"):
        recipe.train()
    after = recipe.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_examples_per_step_gives_every_step_exactly_that_many_examples(tmp_path, tiny_hero_dir):
    job = make_job(tmp_path, tiny_hero_dir, examples_per_step=5, micro_batch_size=2, epochs=2, max_steps=0)
    recipe = TrainingRecipe(job, lambda event: None)
    recipe.setup()
    assert recipe.steps_per_epoch == 10  # 48 rows: nine steps of 5 and one of 3
    for epoch in (0, 1):
        seen = []
        for step in range(epoch * 10, epoch * 10 + 10):
            assert recipe._step_batches(step)[0] == epoch
            micro_batches = recipe._step_batches(step)[1]
            assert all(len(batch) <= 2 for batch in micro_batches)
            seen.append(sorted(i for batch in micro_batches for row in batch for i in row))
        assert [len(s) for s in seen] == [5] * 9 + [3]
        assert sorted(i for s in seen for i in s) == list(range(48))
    outcome = recipe.train()
    recipe.cleanup()
    assert outcome == "completed" and recipe.quest_step == 20


def test_examples_per_step_sizes_the_whole_step():
    with pytest.raises(InvalidArgument) as error:
        build_training_config({}, {"examples_per_step": 8, "gradient_accumulation_steps": 2})
    assert error.value.field == "examples_per_step"


def test_finish_ends_the_quest_as_completed_at_a_final_checkpoint(tmp_path, tiny_hero_dir):
    from services.trainer.worker.protocol import ControlWord, write_control

    job = make_job(tmp_path, tiny_hero_dir, max_steps=50)
    events = []

    def emit(event):
        events.append(event)
        if event["event"] == "step" and event["quest_step"] == 2:
            write_control(job.run_dir, ControlWord.FINISH)

    recipe = TrainingRecipe(job, emit)
    recipe.setup()
    outcome = recipe.train()
    recipe.cleanup()
    assert outcome == "completed" and recipe.quest_step == 2
    assert [p.name for p in complete_checkpoints(job.checkpoints_dir)] == ["step-00000002"]
    assert events[-1]["event"] == "completed" and events[-1]["path"].endswith("step-00000002")


def test_optimizer_scope_campaign_carries_adam_moments_into_the_next_quest(tmp_path, tiny_hero_dir):
    (tmp_path / "a").mkdir()
    first = make_job(tmp_path / "a", tiny_hero_dir, max_steps=4, optimizer_scope="campaign", lr_scope="campaign",
                     lr_decay_steps=40)
    run_recipe(first)
    start = complete_checkpoints(first.checkpoints_dir)[-1]
    saved = torch.load(start / STATE_DIR / "optimizer.pt", weights_only=False)[0]

    def next_quest(scope: str) -> TrainingRecipe:
        (tmp_path / scope).mkdir(exist_ok=True)
        job = make_job(tmp_path / scope, tiny_hero_dir, max_steps=4, optimizer_scope=scope, lr_scope="campaign",
                       lr_decay_steps=40, warmup_steps=2)
        job = Job(**{**job.__dict__, "model_dir": start, "global_step_offset": 4})
        recipe = TrainingRecipe(job, lambda event: None)
        recipe.setup()
        return recipe

    carried = next_quest("campaign")
    state = carried.optimizers[0].state_dict()
    assert state["state"][0]["step"] == saved["state"][0]["step"] == 4
    assert torch.equal(state["state"][0]["exp_avg_sq"], saved["state"][0]["exp_avg_sq"])
    # the hyper-parameters are this quest's (half its peak: warm-up), not the ones saved with the moments
    fresh_group = next_quest("quest").optimizers[0].param_groups[0]
    assert carried.optimizers[0].param_groups[0]["lr"] == fresh_group["lr"] != saved["param_groups"][0]["lr"]
    assert next_quest("quest").optimizers[0].state_dict()["state"] == {}  # quest scope: moments start at zero


def test_moments_start_fresh_when_the_previous_quest_cannot_pass_them_on(tmp_path, tiny_hero_dir):
    from services.trainer.worker.model import carry_optimizer_moments

    (tmp_path / "a").mkdir()
    first = make_job(tmp_path / "a", tiny_hero_dir, max_steps=2, optimizer_scope="campaign")
    run_recipe(first)
    start = complete_checkpoints(first.checkpoints_dir)[-1]
    model = AutoModelForCausalLM.from_pretrained(start)
    lora = build_training_config({}, {"optimizer_scope": "campaign", "lora_enabled": True})
    sgd = build_training_config({}, {"optimizer_scope": "campaign", "optimizer": "sgd"})
    adamw = build_training_config({}, {"optimizer_scope": "campaign"})
    cpu = torch.device("cpu")
    assert "LoRA" in carry_optimizer_moments(model, build_optimizers(model, lora), start, lora, fsdp=False, device=cpu)
    assert "adamw" in carry_optimizer_moments(model, build_optimizers(model, sgd), start, sgd, fsdp=False, device=cpu)
    assert "no optimizer state" in carry_optimizer_moments(model, build_optimizers(model, adamw), tiny_hero_dir,
                                                           adamw, fsdp=False, device=cpu)
    assert carry_optimizer_moments(model, build_optimizers(model, adamw), start, adamw, fsdp=False, device=cpu) == ""
