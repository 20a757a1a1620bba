"""Over real gRPC, the token texts of a stream concatenate to the unary text for the same seed and parameters,
also when the reply ends inside a character or at a stop sequence."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from realm.inference.v1 import inference_pb2 as pb

pytestmark = pytest.mark.integration

PROMPT = "the hero"
SAMPLED = {"temperature": 1.5, "seed": 3, "return_tokens": True}  # a random-init hero: many lone byte tokens


def streamed(realm, **params) -> tuple[str, pb.GenerateStreamResponse, int]:
    messages = list(realm.inference.stream("hero", PROMPT, **SAMPLED, **params))
    tokens = [m.token for m in messages if m.WhichOneof("item") == "token"]
    return "".join(t.text for t in tokens), messages[-1], len(tokens)


def test_streamed_pieces_add_up_to_the_unary_text(inference, hero_dir):
    realm = inference.connect()
    realm.inference.load(str(hero_dir), model_id="hero", wait=True)
    tokenizer = AutoTokenizer.from_pretrained(hero_dir)
    whole = realm.inference.generate("hero", PROMPT, max_new_tokens=40, **SAMPLED)
    ids = [t.id for t in whole.tokens]
    # The same seed cut where the reply stops inside a character: its text ends in U+FFFD.
    inside_a_character = next(k for k in range(1, len(ids)) if tokenizer.decode(ids[:k]).endswith("\ufffd"))
    for max_new_tokens in (40, inside_a_character):
        unary = realm.inference.generate("hero", PROMPT, max_new_tokens=max_new_tokens, **SAMPLED)
        text, final, count = streamed(realm, max_new_tokens=max_new_tokens)
        assert text == final.text == unary.text
        assert count == len(unary.tokens) == unary.summary.generated_tokens
    assert unary.summary.generated_tokens == inside_a_character and unary.text.endswith("\ufffd")

    middle = len(whole.text) // 2
    stop = next(whole.text[i:i + 2] for i in range(middle, len(whole.text) - 1)
                if "\ufffd" not in whole.text[i:i + 2] and whole.text[i:i + 2].strip())
    unary = realm.inference.generate("hero", PROMPT, max_new_tokens=40, stop=[stop], **SAMPLED)
    text, final, count = streamed(realm, max_new_tokens=40, stop=[stop])
    assert unary.summary.finish_reason == pb.FINISH_REASON_STOP_SEQUENCE
    assert text == final.text == unary.text == whole.text[:whole.text.find(stop)]
    assert count == unary.summary.generated_tokens
