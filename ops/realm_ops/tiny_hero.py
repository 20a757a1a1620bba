"""The tiny hero: a small random-init Qwen3 model with a locally trained byte-level BPE tokenizer.

Nothing is downloaded. The result is a plain Hugging Face directory that
`AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained` load, with ChatML special tokens
and a ChatML chat template whose assistant turns sit inside a `{% generation %}` block, so
`apply_chat_template(..., return_assistant_tokens_mask=True)` (and our packer) can find the trained spans.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path

PAD_TOKEN = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = [PAD_TOKEN, IM_START, IM_END]

# ChatML, like Qwen's, minus tools/thinking. Assistant content and its closing <|im_end|> are the
# generation span (what is trained); the role header and the newline after <|im_end|> are not.
CHATML_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['role'] == 'assistant' -%}"
    "{%- generation -%}{{- message['content'] + '<|im_end|>' -}}{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- message['content'] + '<|im_end|>' + '\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

_QWEN_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_CIRCLED_DIGITS = "⓪①②③④⑤⑥⑦⑧⑨"
_WORDS = (
    "the a an of to and in is it that for on with as was at by be this from or are have not but "
    "word puzzle syllable count letters answer question solve add sum binary number digit bit carry "
    "result level skill hero quest vault realm train model check step loss true false yes no "
    "apple banana cherry dragon ember forest garden harbor island jungle kettle lantern meadow "
    "system user assistant you are a helpful careful tutor reply only with the final"
).split()


def default_corpus(seed: int = 0, lines: int = 3000) -> list[str]:
    """Built-in text covering what the curriculum generates: binary arithmetic (plain and circled digits),
    word puzzles, and ChatML-style role words, so the BPE learns useful merges for them."""
    rng = random.Random(seed)
    corpus: list[str] = []
    for _ in range(lines):
        kind = rng.randrange(4)
        if kind == 0:
            bits = rng.randint(2, 8)
            a, b = rng.randrange(2**bits), rng.randrange(2**bits)
            corpus.append(f"{a:0{bits}b} + {b:0{bits}b} = {a + b:b}")
        elif kind == 1:
            bits = rng.randint(2, 6)
            a, b = rng.randrange(2**bits), rng.randrange(2**bits)
            circled = str.maketrans("0123456789", _CIRCLED_DIGITS)
            corpus.append(f"{a:b}".translate(circled) + " ⊕ " + f"{b:b}".translate(circled) + " → "
                          + f"{a + b:b}".translate(circled))
        elif kind == 2:
            word = rng.choice(_WORDS)
            corpus.append(f"How many letters are in '{word}'? Answer: {len(word)}")
        else:
            corpus.append(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 14))).capitalize() + ".")
    corpus.append("0123456789 " + _CIRCLED_DIGITS + " +-=*/()[]{}<>.,:;!?'\"")
    return corpus


def train_tokenizer(corpus: Iterable[str], vocab_size: int):
    """A byte-level BPE (GPT-2/Qwen style) trained on `corpus`, wrapped as a transformers fast tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    # Qwen2's split: every digit (including circled ones, \\p{N}) is its own pre-token, which arithmetic needs.
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN_SPLIT_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(corpus), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=IM_END,
        pad_token=PAD_TOKEN,
        additional_special_tokens=[IM_START, IM_END],
        model_max_length=32768,
        padding_side="right",
        clean_up_tokenization_spaces=False,
        # No token_type_ids: Qwen3's forward (and generate(**inputs)) does not take them.
        model_input_names=["input_ids", "attention_mask"],
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def build_tiny_hero(
    out_dir: Path,
    corpus: Iterable[str] | None = None,
    *,
    hidden_size: int = 128,
    num_layers: int = 4,
    vocab_size: int = 1024,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    intermediate_size: int | None = None,
    max_position_embeddings: int = 4096,
    seed: int = 0,
) -> Path:
    """Write a random-init Qwen3ForCausalLM + trained tokenizer to `out_dir` and return it.

    Deterministic for a given corpus and seed. Default size is ~0.8 M parameters.
    """
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    if hidden_size % num_attention_heads:
        raise ValueError(f"hidden_size {hidden_size} must be divisible by num_attention_heads {num_attention_heads}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus if corpus is not None else default_corpus(seed), vocab_size)
    real_vocab = len(tokenizer)
    # The embedding table may be larger than the trained vocabulary (rounded up like real models).
    padded_vocab = max(vocab_size, ((real_vocab + 63) // 64) * 64)
    config = Qwen3Config(
        vocab_size=padded_vocab,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or hidden_size * 3,
        num_hidden_layers=num_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        head_dim=hidden_size // num_attention_heads,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=True,
        rope_theta=10000.0,
        bos_token_id=tokenizer.convert_tokens_to_ids(IM_START),
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=[config.eos_token_id],
        pad_token_id=config.pad_token_id,
        do_sample=False,
    )
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "realm_hero.json").write_text(
        json.dumps(
            {
                "kind": "tiny-hero",
                "seed": seed,
                "parameter_count": sum(p.numel() for p in model.parameters()),
                "tokenizer_vocab": real_vocab,
            },
            indent=2,
        )
        + "\n"
    )
    return out_dir


def main(argv: list[str] | None = None) -> None:
    """`python -m realm_ops.tiny_hero OUT_DIR`: build the tiny hero (e.g. from a Makefile)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m realm_ops.tiny_hero", description=main.__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--vocab-size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, help="text file, one line per sample (default: built-in text)")
    args = parser.parse_args(argv)
    corpus = args.corpus.read_text(encoding="utf-8").splitlines() if args.corpus else None
    out = build_tiny_hero(args.out_dir, corpus, hidden_size=args.hidden_size, num_layers=args.num_layers,
                          vocab_size=args.vocab_size, seed=args.seed)
    print(out)


if __name__ == "__main__":
    main()
