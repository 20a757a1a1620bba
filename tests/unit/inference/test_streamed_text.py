"""Streamed token texts add up to the unary text: characters split across byte-level BPE tokens are held back
until complete (the tail a sequence ends in is released with its last token), and nothing is streamed past a
stop sequence. The tiny hero's tokenizer is a real byte-level BPE trained locally."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from fixtures.tgi import FakeTgiServer
from services.inference.backend import FINISH_LENGTH, FINISH_STOP_SEQUENCE, collect
from services.inference.params import GenerationLimits, SamplingParams
from services.inference.sampling import StreamedText
from services.inference.tgi import TgiBackend

from .conftest import PROMPTS

LIMITS = GenerationLimits()
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the text-generation client
# 🐉, ê and 日本 are not in the tiny hero's training corpus: each splits into byte tokens.
MULTI_BYTE_TEXT = "the hero 🐉 ate a crêpe: ① ⊕ ② → ③, 日本"


@pytest.fixture(scope="module")
def tokenizer(hero_dir):
    return AutoTokenizer.from_pretrained(hero_dir)


def split_character_ends(tokenizer, ids: list[int]) -> list[int]:
    """Lengths k at which ids[:k] stops in the middle of a character."""
    return [k for k in range(1, len(ids)) if tokenizer.decode(ids[:k]).endswith("\ufffd")]


def stream_tokens(tokenizer, ids: list[int], stops: tuple[str, ...] = ()) -> tuple[list[str], StreamedText]:
    streamed = StreamedText.for_tokens(tokenizer, stops)
    pieces = [streamed.add_token(i) for i in ids]
    pieces[-1] += streamed.finish()
    return pieces, streamed


def test_characters_split_across_tokens_are_streamed_whole(tokenizer):
    ids = tokenizer(MULTI_BYTE_TEXT, add_special_tokens=False).input_ids
    assert split_character_ends(tokenizer, ids)  # the text really splits characters across tokens
    pieces, _ = stream_tokens(tokenizer, ids)
    assert len(pieces) == len(ids)
    assert "".join(pieces) == MULTI_BYTE_TEXT
    assert not any("\ufffd" in piece for piece in pieces)
    assert {"🐉", "ê", "日", "本"} <= set(pieces)  # each released whole by the token that completes it


def test_a_sequence_ending_inside_a_character_releases_the_tail_with_its_last_token(tokenizer):
    ids = tokenizer(MULTI_BYTE_TEXT, add_special_tokens=False).input_ids
    for end in split_character_ends(tokenizer, ids):
        pieces, streamed = stream_tokens(tokenizer, ids[:end])
        unary = tokenizer.decode(ids[:end], skip_special_tokens=True)
        assert "".join(pieces) == unary == streamed.final()[0]
        assert pieces[-1].endswith("\ufffd")


def test_text_that_could_grow_into_a_stop_sequence_is_held_back():
    streamed = StreamedText(("</s>", "STOP"))
    assert [streamed.add(p) for p in ["hello <", "b> S", "TO"]] == ["hello ", "<b> ", ""]
    assert not streamed.stopped
    assert streamed.add("P and more") == "" and streamed.stopped
    assert streamed.final() == ("hello <b> ", "STOP")
    assert streamed.finish() == ""


def test_a_stop_sequence_spanning_tokens_is_never_streamed(tokenizer):
    ids = tokenizer(MULTI_BYTE_TEXT, add_special_tokens=False).input_ids
    pieces, streamed = stream_tokens(tokenizer, ids, stops=("crê",))
    assert streamed.stopped
    assert streamed.final() == ("the hero 🐉 ate a ", "crê")
    assert "".join(pieces) == "the hero 🐉 ate a "


def _sampled(max_new_tokens: int, **extra) -> SamplingParams:
    return SamplingParams.build(LIMITS, max_new_tokens=max_new_tokens, temperature=1.5, seed=3, **extra)


async def test_engine_stream_ending_inside_a_character_equals_the_unary_text(backend, tokenizer):
    # A random-init hero sampled hot draws plenty of lone byte tokens: cut the same seeded sample where its
    # text stops inside a character.
    full = await collect(backend.generate_stream(PROMPTS[2], _sampled(40)))
    ends = split_character_ends(tokenizer, [t.id for t in full.tokens])
    assert ends, full.text
    cut = await collect(backend.generate_stream(PROMPTS[2], _sampled(ends[0])))
    assert cut.summary.finish_reason == FINISH_LENGTH
    assert len(cut.tokens) == cut.summary.generated_tokens == ends[0]  # one entry per token, held or not
    assert cut.text.endswith("\ufffd")
    assert "".join(t.text for t in cut.tokens) == cut.text
    assert "".join(t.text for t in full.tokens) == full.text


async def test_engine_stream_with_a_stop_sequence_equals_the_unary_text(backend):
    full = await collect(backend.generate_stream(PROMPTS[0], _sampled(60)))
    middle = len(full.text) // 2
    stop = next(full.text[i:i + 2] for i in range(middle, len(full.text) - 1)
                if "\ufffd" not in full.text[i:i + 2] and full.text[i:i + 2].strip())
    stopped = await collect(backend.generate_stream(PROMPTS[0], _sampled(60, stop_sequences=[stop])))
    assert stopped.summary.finish_reason == FINISH_STOP_SEQUENCE and stopped.summary.stop_sequence == stop
    assert stopped.text == full.text[:full.text.find(stop)]
    assert "".join(t.text for t in stopped.tokens) == stopped.text
    assert len(stopped.tokens) == stopped.summary.generated_tokens


async def test_tgi_stream_stops_before_the_stop_sequence():
    async with FakeTgiServer() as server:
        backend = TgiBackend(server.url)
        stopped = await collect(backend.generate_stream("abcdef", SamplingParams.build(
            LIMITS, max_new_tokens=50, stop_sequences=["cd"])))
    assert stopped.summary.finish_reason == FINISH_STOP_SEQUENCE and stopped.text == "echo: ab"
    assert "".join(t.text for t in stopped.tokens) == "echo: ab"
    assert len(stopped.tokens) == stopped.summary.generated_tokens
