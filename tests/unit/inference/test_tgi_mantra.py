"""A TGI-served checkpoint gets the mantra it was trained with: the service's local copy of that checkpoint (the
`inference.tgi_tokenizers` directory for the URL, a checkpoint directory with its tokenizer files) carries the
mantra.json the training worker wrote, and chat renders with the same system turn the transformers backend adds."""

from __future__ import annotations

import datetime
import shutil

import pytest

from fixtures.tgi import FakeTgiServer
from services.inference.app import build_pool
from services.inference.config import InferenceConfig
from services.inference.params import GenerationLimits, SamplingParams
from services.inference.pool import READY, LoadSpec
from services.kit.errors import InvalidArgument
from services.kit.mantra import RULE_REPLACE, Mantra, apply_mantra, write_mantra_file

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hi"}]


def pool_for(tmp_path, url: str, checkpoint_dir):
    config = InferenceConfig.from_section({"tgi_tokenizers": {url: str(checkpoint_dir)}}, data_dir=tmp_path / "var",
                                          root=tmp_path)
    return build_pool(config)


async def test_chat_through_tgi_applies_the_checkpoints_mantra(tmp_path, hero_dir):
    from transformers import AutoTokenizer

    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(hero_dir, checkpoint)
    mantra = Mantra("Served on {date} by TGI.", RULE_REPLACE, version=3)
    write_mantra_file(checkpoint, mantra)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    async with FakeTgiServer() as server:
        pool = pool_for(tmp_path, server.url, checkpoint)
        view = await pool.load(LoadSpec(source=server.url, model_id="remote"), wait=True)
        assert view.state == READY and view.backend == "tgi"
        prompt = pool.render_chat("models/remote", MESSAGES)
        expected = apply_mantra(MESSAGES, mantra, today=datetime.date.today())
        assert expected[0]["content"].startswith("Served on ")  # replace: the mantra took the system turn
        assert prompt == tokenizer.apply_chat_template(expected, tokenize=False, add_generation_prompt=True)
        assert await pool.chat_prompt("models/remote", MESSAGES) == prompt
        completion = await pool.generate("models/remote", prompt, SamplingParams.build(
            GenerationLimits(), max_new_tokens=400), chat_template_applied=True)
        assert server.requests[-1]["inputs"] == prompt and completion.text == "echo: " + prompt
        await pool.close()


async def test_without_a_mantra_file_tgi_chat_is_unchanged_and_a_bad_one_fails_the_load(tmp_path, hero_dir):
    from transformers import AutoTokenizer

    checkpoint = tmp_path / "base"
    shutil.copytree(hero_dir, checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    async with FakeTgiServer() as server:
        pool = pool_for(tmp_path, server.url, checkpoint)
        await pool.load(LoadSpec(source=server.url, model_id="remote"), wait=True)
        assert pool.render_chat("models/remote", MESSAGES) == tokenizer.apply_chat_template(
            MESSAGES, tokenize=False, add_generation_prompt=True)
        await pool.close()

        (checkpoint / "mantra.json").write_text("{not json")
        pool = pool_for(tmp_path, server.url, checkpoint)
        with pytest.raises(InvalidArgument, match="not a readable mantra file") as caught:
            await pool.load(LoadSpec(source=server.url, model_id="remote"), wait=True)
        assert caught.value.field == "mantra.json"
        await pool.close()
