"""A full inference queue is HTTP 429 on both surfaces (OpenAI rate_limit_error with x-should-retry, TGI
`overloaded`), over a real inference service with one batch slot and one queue place."""

from __future__ import annotations

import threading

import httpx
import openai
import pytest
import text_generation
from prometheus_client import REGISTRY

from fixtures.kit import READ_TOKEN

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {READ_TOKEN}"}
PROMPTS = ["add(①⓪, ①①)", "sub(①①, ①)", "hello", "0110 + 1001 =", "abc"]
LONG = 128


def queued() -> float:
    return sum(s.value for m in REGISTRY.collect() if m.name == "realm_inference_queued_requests"
               for s in m.samples)


def test_a_full_queue_is_429(tmp_path, hero_dir, inference_stack, until):
    with inference_stack(tmp_path, hero_dir, inference={"max_batch_size": 1, "max_queue": 1}) as stack:
        url = stack.gateway.url
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=READ_TOKEN, max_retries=0)
        # A greedy answer that runs to the length cap keeps the one batch slot busy (greedy: the same every time).
        prompt = next(p for p in PROMPTS if client.completions.create(
            model="default", prompt=p, max_tokens=LONG).choices[0].finish_reason == "length")
        body = {"model": "default", "prompt": prompt, "max_tokens": LONG, "stream": True}
        with httpx.stream("POST", f"{url}/v1/completions", json=body, headers=AUTH, timeout=120) as running:
            assert next(running.iter_lines()).startswith(":")  # the first token is out: the slot is taken
            waiting = threading.Thread(target=lambda: httpx.post(f"{url}/v1/completions", headers=AUTH, timeout=120,
                                                                 json={**body, "stream": False, "max_tokens": 2}))
            waiting.start()
            stack.background.run(until(lambda: queued() == 1, what="one request in the queue"))
            with pytest.raises(openai.RateLimitError) as limited:
                client.completions.create(model="default", prompt="x", max_tokens=2)
            assert limited.value.response.headers["x-should-retry"] == "true"
            assert limited.value.body["type"] == "rate_limit_error"
            with pytest.raises(text_generation.errors.OverloadedError):
                text_generation.Client(url, headers=AUTH).generate("x", max_new_tokens=2)
        waiting.join(120)
