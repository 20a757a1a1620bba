"""Mantra train/serve parity, token for token: the worker's tokenised training row vs the inference service's
rendered chat prompt for the same conversation, with a checkpoint the real training recipe wrote (mantra.json).
"""

from __future__ import annotations

import contextlib
import datetime
import json

import pytest

from fixtures.kit import make_test_settings, serve_for_test
from realm.inference.v1 import inference_pb2 as ipb
from services.inference.app import setup as inference_setup
from services.kit.config import SERVICE_NAMES
from services.kit.mantra import DEFAULT_MANTRA_TEXT, MANTRA_FILE, Mantra, read_mantra_file
from services.trainer.worker.config import build_training_config
from services.trainer.worker.packing import IGNORE_INDEX
from services.trainer.worker.protocol import Job
from services.trainer.worker.recipe import TrainingRecipe

pytestmark = pytest.mark.integration

PLAIN = [{"role": "user", "content": "101 + 11 ="}, {"role": "assistant", "content": "1000"}]
OWN_SYSTEM = [{"role": "system", "content": "Add binary numbers."}, {"role": "user", "content": "11 + 1 ="},
              {"role": "assistant", "content": "100"}]


def train_one_step(tmp_path, hero_dir, mantra: Mantra):
    quest = tmp_path / "quest.jsonl"
    quest.write_text("".join(json.dumps({"messages": m}) + "\n" for m in (PLAIN, OWN_SYSTEM) * 4))
    job = Job(quest="quests/q", campaign="campaigns/c", hero="heroes/tiny", model_dir=hero_dir, dataset_path=quest,
              run_dir=tmp_path / "run", mantra=mantra, mantra_date=datetime.date.today().isoformat(),
              config=build_training_config({}, {"max_seq_len": 128, "micro_batch_size": 2, "max_steps": 1,
                                                "packing": False, "shuffle": False}))
    recipe = TrainingRecipe(job, lambda event: None)
    recipe.setup()
    recipe.train()
    recipe.cleanup()
    by_line = {example.line: example for example in recipe.data.examples}
    return recipe.last_checkpoint, by_line[1], by_line[2]


def prompt_part(example) -> list[int]:
    """The tokens before the first trained one: what the model saw before its reply."""
    first = next(i for i, t in enumerate(example.targets) if t != IGNORE_INDEX)
    return list(example.input_ids[: first + 1])


@contextlib.asynccontextmanager
async def inference_service(tmp_path):
    services = {name: {"host": "local", "port": 0} for name in SERVICE_NAMES}
    settings = make_test_settings(tmp_path / "inference", services=services,
                                  inference={"max_batch_size": 2, "max_queue": 4})
    async with serve_for_test(settings, "inference", inference_setup) as running:
        yield running


async def served_prompt_ids(realm, messages) -> tuple[str, list[int]]:
    import asyncio

    chat = await asyncio.to_thread(realm.inference.chat, "ckpt", messages, max_new_tokens=1)
    tokens = await asyncio.to_thread(realm.inference.Tokenize, ipb.TokenizeRequest(
        model="models/ckpt", prompt=chat.rendered_prompt, skip_special_tokens=True))
    return chat.rendered_prompt, [t.id for t in tokens.tokens]


@pytest.mark.parametrize("rule", ["keep", "replace"])
async def test_training_tokens_equal_serving_tokens(tmp_path, tiny_hero_dir, rule):
    import asyncio

    mantra = Mantra(text=DEFAULT_MANTRA_TEXT, rule=rule, version=3)
    checkpoint, plain, own_system = await asyncio.to_thread(train_one_step, tmp_path, tiny_hero_dir, mantra)
    assert read_mantra_file(checkpoint) == mantra  # the checkpoint carries what it trained with
    assert (checkpoint / MANTRA_FILE).is_file()
    today = datetime.date.today().isoformat()

    async with inference_service(tmp_path) as running:
        realm = running.connect()
        await asyncio.to_thread(realm.inference.load, str(checkpoint), model_id="ckpt", wait=True)
        for example, conversation in ((plain, PLAIN), (own_system, OWN_SYSTEM)):
            rendered, served = await served_prompt_ids(realm, conversation[:-1])  # without the reply
            assert served == prompt_part(example)  # token for token
            mantra_served = not (rule == "keep" and conversation is OWN_SYSTEM)
            assert (f"Today is {today}. You are happy." in rendered) is mantra_served

    # The rule decided the same system turn on both sides: keep leaves the row's own, replace swaps it out.
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    own_text = tokenizer.decode(own_system.input_ids)
    assert ("Add binary numbers." in own_text) is (rule == "keep")
    assert (f"Today is {today}." in own_text) is (rule == "replace")
    assert f"Today is {today}." in tokenizer.decode(plain.input_ids)
