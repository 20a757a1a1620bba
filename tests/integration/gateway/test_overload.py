"""A full inference queue is HTTP 429 on both surfaces (OpenAI rate_limit_error with x-should-retry, TGI
`overloaded`), over a real inference service with one batch slot and one queue place: of eight requests sent
together, one runs, one waits, and those arriving meanwhile are turned away at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
import text_generation

from fixtures.kit import READ_TOKEN

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {READ_TOKEN}"}
TOGETHER = 8


def together(call) -> list:
    def outcome(_):
        try:
            return call()
        except Exception as exc:  # the outcome (answer or error) is what is asserted
            return exc
    with ThreadPoolExecutor(TOGETHER) as pool:
        return list(pool.map(outcome, range(TOGETHER)))


def test_a_full_queue_is_429_on_both_surfaces(tmp_path, hero_dir, inference_stack):
    with inference_stack(tmp_path, hero_dir, inference={"max_batch_size": 1, "max_queue": 1}) as stack:
        url = stack.gateway.url
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=READ_TOKEN, max_retries=0)
        answers = together(lambda: client.completions.create(model="default", prompt="add(①⓪, ①①) =",
                                                             max_tokens=200))
        limited = [a for a in answers if isinstance(a, openai.RateLimitError)]
        assert limited and all(isinstance(a, openai.RateLimitError | openai.types.Completion) for a in answers)
        assert limited[0].status_code == 429 and limited[0].body["type"] == "rate_limit_error"
        assert limited[0].response.headers["x-should-retry"] == "true"

        tgi = text_generation.Client(url, headers=AUTH, timeout=120)
        outcomes = together(lambda: tgi.generate("add(①⓪, ①①) =", max_new_tokens=200))
        overloaded = [o for o in outcomes if isinstance(o, text_generation.errors.OverloadedError)]
        assert overloaded and all(isinstance(o, text_generation.errors.OverloadedError | text_generation.types.Response)
                                  for o in outcomes)
