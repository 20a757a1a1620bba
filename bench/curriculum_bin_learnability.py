"""Is a BIN level learnable by the ~0.9M-parameter tiny hero in minutes? Train on generated rows, grade the eval set.

A plain loop (AdamW, assistant-only loss, batch 64) on `generate_problems(bin, level)`; every `--eval-every`
seconds the level's frozen eval set is answered greedily and graded by the BIN grader. Baseline: the same model
before training (same eval set, same grader). On a held-out level (BIN L3 and up) the rows skip the eval
problems, as the curriculum's do, so the figure is the plain loop's held-out accuracy: the baseline for the
loop's "BIN L3 held-out" goal. With --ema, an exponential moving average of the weights is graded beside the
trained weights at every eval (same run, same steps). With --work-lines MODE, every untagged question is answered
with that mode's work lines before the answer line (the skill writes them only for tagged questions):
the grader reads only the last line, so this asks whether showing the work helps the held-out problems.

    .venv/bin/python bench/curriculum_bin_learnability.py [--seconds 300] [--threads 2]
    .venv/bin/python bench/curriculum_bin_learnability.py --level 3 --seconds 480 --ema 0.998
    .venv/bin/python bench/curriculum_bin_learnability.py --level 3 --seconds 1200 --work-lines trace

RESULT: the last eval's accuracy, the best one, the EMA weights' last and best, and the seconds to the
level's pass threshold ("not_reached" within the budget).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "clients"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))  # realm_ops.tiny_hero

import torch  # noqa: E402

from realm_ops.tiny_hero import build_tiny_hero  # noqa: E402
from services.curriculum.skills.base import Message, eval_set, generate_problems, level_spec  # noqa: E402
from services.curriculum.skills.registry import default_registry  # noqa: E402
from services.kit.errors import InvalidArgument  # noqa: E402


def encode(tokenizer, problem) -> tuple[list[int], list[int]]:
    prompt = [m.to_dict() for m in problem.prompt]
    prompt_ids = tokenizer.apply_chat_template(prompt, tokenize=True, add_generation_prompt=True)
    full_ids = tokenizer.apply_chat_template(problem.training_messages(), tokenize=True)
    assert full_ids[: len(prompt_ids)] == prompt_ids
    labels = [-100] * len(prompt_ids) + full_ids[len(prompt_ids):]
    return full_ids, labels


def batches(examples, batch_size: int, pad_id: int, generator: torch.Generator):
    while True:
        order = torch.randperm(len(examples), generator=generator).tolist()
        for start in range(0, len(order) - batch_size + 1, batch_size):
            chosen = [examples[i] for i in order[start:start + batch_size]]
            width = max(len(ids) for ids, _ in chosen)
            ids = torch.full((batch_size, width), pad_id)
            labels = torch.full((batch_size, width), -100)
            mask = torch.zeros((batch_size, width), dtype=torch.long)
            for row, (x, y) in enumerate(chosen):
                ids[row, : len(x)] = torch.tensor(x)
                labels[row, : len(y)] = torch.tensor(y)
                mask[row, : len(x)] = 1
            yield ids, labels, mask


def untagged(problem, mode: str):
    """The problem asked as a plain (untagged) question, its answer keeping the mode's work lines."""
    (question,) = problem.prompt
    tag = f"[{mode}] "
    assert question.content.startswith(tag), question.content
    return dataclasses.replace(problem, prompt=(Message(question.role, question.content.removeprefix(tag)),))


@torch.no_grad()
def evaluate(model, tokenizer, skill, problems, max_new_tokens: int) -> float:
    model.eval()
    tokenizer.padding_side = "left"
    prompts = [tokenizer.apply_chat_template([m.to_dict() for m in p.prompt], tokenize=False,
                                             add_generation_prompt=True) for p in problems]
    encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    out = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"))
    texts = tokenizer.batch_decode(out[:, encoded["input_ids"].shape[1]:], skip_special_tokens=True)
    model.train()
    return sum(skill.grade(p, t).correct for p, t in zip(problems, texts, strict=True)) / len(problems)


def main(argv: list[str] | None = None) -> int:
    skill = default_registry().get("bin")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="training time budget")
    parser.add_argument("--eval-every", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--level", type=int, default=1, help="BIN level to train and grade")
    parser.add_argument("--rows", type=int, default=0, help="generated rows (default: 4000 at L1, 60000 above)")
    parser.add_argument("--ema", type=float, default=0.0, help="also grade an EMA of the weights with this decay")
    parser.add_argument("--work-lines", choices=[m for m in skill.modes if m != "plain"], default=None,
                        help="answer untagged questions with this mode's work lines, then the answer line")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        spec = level_spec(skill, args.level)
    except InvalidArgument as error:
        parser.error(f"--level: {error}")
    frozen = eval_set(skill, args.level)
    problems = frozen.problems
    with tempfile.TemporaryDirectory() as tmp:
        hero = build_tiny_hero(Path(tmp) / "hero")
        tokenizer = AutoTokenizer.from_pretrained(hero)
        model = AutoModelForCausalLM.from_pretrained(hero)
    params = sum(p.numel() for p in model.parameters())
    rows = args.rows or (4000 if args.level == 1 else 60000)
    generated = generate_problems(skill, args.level, rows, seed=0, mode=args.work_lines)
    if args.work_lines:
        generated = [untagged(p, args.work_lines) for p in generated]
    examples = [encode(tokenizer, p) for p in generated]
    # 24 tokens hold any plain answer line up to L3; work lines get room for the longest trained answer.
    answer_tokens = (max(sum(label != -100 for label in labels) for _, labels in examples) + 8
                     if args.work_lines else 24)
    baseline = evaluate(model, tokenizer, skill, problems, answer_tokens)
    average = copy.deepcopy(model) if args.ema else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    stream = batches(examples, args.batch, tokenizer.pad_token_id, torch.Generator().manual_seed(0))
    print(f"tiny hero: {params / 1e6:.2f} M parameters; {len(examples)} L{args.level} rows "
          f"(~{sum(len(x) for x, _ in examples) / len(examples):.0f} tokens each); eval set {frozen.regime}, "
          f"pass threshold {spec.pass_threshold}" + (f"; answers show {args.work_lines} work lines" if args.work_lines else ""))
    print(f"{'seconds':>8}{'step':>7}{'loss':>9}{'eval acc':>10}" + (f"{'EMA acc':>10}" if average else ""))
    print(f"{0:>8.0f}{0:>7}{'':>9}{baseline:>10.2f}   (baseline: untrained)")
    start = last_eval = time.perf_counter()
    step, reached, history, ema_history = 0, None, [baseline], []
    loss = torch.tensor(float("nan"))  # graded as is when the budget ends before a step

    def grade(loss_value: float) -> None:
        history.append(evaluate(model, tokenizer, skill, problems, answer_tokens))
        if average is not None:
            ema_history.append(evaluate(average, tokenizer, skill, problems, answer_tokens))
        print(f"{time.perf_counter() - start:>8.0f}{step:>7}{loss_value:>9.4f}{history[-1]:>10.2f}"
              + (f"{ema_history[-1]:>10.2f}" if average else ""), flush=True)

    model.train()
    while time.perf_counter() - start < args.seconds:
        ids, labels, mask = next(stream)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if average is not None:
            with torch.no_grad():
                for kept, trained in zip(average.parameters(), model.parameters(), strict=True):
                    kept.lerp_(trained, 1.0 - args.ema)
        step += 1
        now = time.perf_counter()
        if now - last_eval >= args.eval_every:
            grade(loss.item())
            last_eval = time.perf_counter()
            if history[-1] >= spec.pass_threshold:
                reached = now - start
                break
    if reached is None:  # the budget's end: grade the final weights too
        grade(loss.item())
    to_threshold = f"{reached:.0f}" if reached is not None else "not_reached"
    ema = (f" ema_accuracy={ema_history[-1]:.2f} ema_best_accuracy={max(ema_history):.2f}"
           if ema_history else "")
    print(f"RESULT bin_l{args.level}_accuracy={history[-1]:.2f} best_accuracy={max(history):.2f}{ema} "
          f"baseline_accuracy={baseline:.2f} seconds_to_threshold={to_threshold} steps={step}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
