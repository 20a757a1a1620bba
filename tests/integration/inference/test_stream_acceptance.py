"""GenerateStream and ChatStream send their response headers (`x-realm-accepted: queued`) once the request is
queued, before its first token: here while it waits behind a long generation holding the only batch slot. A
request refused at once (unknown model) gets its error and no acceptance header."""

from __future__ import annotations

import grpc
import pytest
from prometheus_client import REGISTRY

from realm.sdk.inference import ACCEPTED_METADATA_KEY
from services.inference.app import setup as inference_setup

from .conftest import inference_settings
from .test_inference_service import PROMPT, loaded

pytestmark = pytest.mark.integration


def queued_requests() -> float:
    return REGISTRY.get_sample_value("realm_inference_queued_requests", {"model": "hero"}) or 0.0


@pytest.mark.parametrize("kind", ["generate", "chat"])
def test_streams_say_accepted_while_their_request_still_waits(services, tmp_path, hero_dir, kind):
    running = services.start(inference_settings(tmp_path, max_batch_size=1, max_queue=2), "inference",
                             inference_setup)
    realm = loaded(running, hero_dir)
    holder = realm.inference.stream("hero", PROMPT, max_new_tokens=4000)
    next(holder)  # holds the only batch slot
    try:
        if kind == "generate":
            call = realm.inference.stream("hero", PROMPT, max_new_tokens=2)
        else:
            call = realm.inference.chat_stream("hero", [{"role": "user", "content": PROMPT}], max_new_tokens=2)
        headers = dict(call.initial_metadata())  # blocks until the response headers arrive
        assert headers.get(ACCEPTED_METADATA_KEY) == "queued"
        assert queued_requests() == 1 and not holder.done()  # still waiting for the slot: no token yet
    finally:
        holder.cancel()
    messages = list(call)
    assert messages[-1].summary.generated_tokens == 2


def test_a_request_refused_at_once_gets_no_acceptance(inference, hero_dir):
    realm = loaded(inference, hero_dir)
    call = realm.inference.stream("nowhere", PROMPT, max_new_tokens=2)
    with pytest.raises(grpc.RpcError) as caught:
        list(call)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert ACCEPTED_METADATA_KEY not in dict(call.initial_metadata() or ())
