"""OpenAI/TGI streams whose first token is slow: the headers leave once the inference service has accepted the
request (its `x-realm-accepted` response header), not with the first token, and a client that leaves before its
first token cancels the upstream call (gateway and inference in-flight gauges back to baseline, the queued
request gone). Over a real inference service with one batch slot, held by a long generation."""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlsplit

import pytest
from prometheus_client import REGISTRY

from fixtures.kit import READ_TOKEN
from realm.inference.v1 import inference_pb2 as ipb

pytestmark = pytest.mark.integration
PROMPT = "add(①⓪, ①①) ="


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Blocker:
    """A long generation straight to the service, holding its only batch slot until the test ends it."""

    def __init__(self, admin) -> None:
        request = ipb.GenerateStreamRequest(model="models/default", prompt=PROMPT,
                                            parameters=ipb.GenerationParameters(max_new_tokens=2048))
        self.call = admin.inference.GenerateStream(request, timeout=600)
        self.first = next(self.call)  # running: it holds the slot
        self.ended = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        try:
            for _ in self.call:
                pass
        except Exception:  # cancelled by close()
            pass
        self.ended.set()

    def close(self) -> None:
        self.call.cancel()
        self.ended.wait(30)


def post(url: str, path: str, body: dict) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """Send a request and return once its response headers have arrived (the body is not read)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    connection.request("POST", path, json.dumps(body), {"Authorization": f"Bearer {READ_TOKEN}",
                                                        "Content-Type": "application/json"})
    return connection, connection.getresponse()


@pytest.mark.parametrize(("path", "body", "route", "method"), [
    ("/v1/chat/completions", {"model": "default", "stream": True, "max_tokens": 4,
                              "messages": [{"role": "user", "content": PROMPT}]},
     "/v1/chat/completions", "ChatStream"),
    ("/generate_stream", {"inputs": PROMPT, "parameters": {"max_new_tokens": 4}}, "/generate_stream",
     "GenerateStream"),
], ids=["openai", "tgi"])
def test_headers_leave_on_acceptance_and_leaving_before_the_first_token_cancels(
        tmp_path, hero_dir, inference_stack, until_sync, path, body, route, method):
    # stream_headers_seconds is far beyond the test: only the acceptance can send the headers early.
    with inference_stack(tmp_path, hero_dir, inference={"max_batch_size": 1},
                         stream_headers_seconds=600) as stack:
        gateway = stack.gateway
        blocker = Blocker(stack.admin)
        try:
            baseline = sample("realm_rpc_in_flight", service="inference", method=method)  # the blocker's included
            connection, response = post(gateway.url, path, body)
            # Headers are here while the request still waits for the slot: no token can have been made for it.
            queued = sample("realm_inference_queued_requests", model="default")
            assert not blocker.ended.is_set()
            assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
            assert queued == 1
            assert gateway.gauge("realm_gateway_upstream_streams_in_flight", route=route) == 1
            assert sample("realm_rpc_in_flight", service="inference", method=method) == baseline + 1
            connection.close()  # gone before its first token
            until_sync(lambda: gateway.gauge("realm_gateway_upstream_streams_in_flight", route=route) == 0,
                       what="the gateway to drop its upstream call")
            until_sync(lambda: sample("realm_rpc_in_flight", service="inference", method=method) == baseline,
                       what="the inference service to see the cancel")
            until_sync(lambda: sample("realm_inference_queued_requests", model="default") == 0,
                       what="the queued request to leave the queue")
            assert not blocker.ended.is_set()  # all of this happened while the slot was still taken
        finally:
            blocker.close()


def test_headers_leave_within_the_bound_when_the_backend_says_nothing_before_its_first_token(
        tmp_path, hero_dir, inference_stack, until_sync):
    """A TGI backend tells nothing before its first token (no acceptance mark): the headers leave after
    stream_headers_seconds, and leaving then still cancels the call down to the TGI server."""
    from fixtures.tgi import FakeTgiServer

    with inference_stack(tmp_path, hero_dir, stream_headers_seconds=0.2) as stack:
        fake = stack.background.enter(FakeTgiServer(hold_first_token=True))
        stack.admin.inference.LoadModel(ipb.LoadModelRequest(source=fake.url, model_id="echo",
                                                             backend=ipb.BACKEND_TGI, wait=True), timeout=60)
        gateway = stack.gateway
        baseline = sample("realm_rpc_in_flight", service="inference", method="GenerateStream")
        parts = urlsplit(gateway.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        connection.request("POST", "/generate_stream", json.dumps({"inputs": "hi", "parameters": {}}),
                           {"Authorization": f"Bearer {READ_TOKEN}", "Content-Type": "application/json",
                            "X-Realm-Model": "echo"})
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
        assert fake.active_streams == 1 and not fake.first_token_gate.is_set()  # no token exists yet
        connection.close()
        until_sync(lambda: gateway.gauge("realm_gateway_upstream_streams_in_flight", route="/generate_stream") == 0,
                   what="the gateway to drop its upstream call")
        until_sync(lambda: sample("realm_rpc_in_flight", service="inference", method="GenerateStream") == baseline,
                   what="the inference service to see the cancel")
        until_sync(lambda: fake.active_streams == 0, what="the TGI server to see the disconnect")
        assert fake.disconnects == 1
