"""Prometheus metrics of the inference service (default registry, served by the kit's metrics endpoint)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_TOKEN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1)

REQUESTS = Counter(
    "realm_inference_requests_total", "Generation requests by model, kind and outcome",
    ["model", "kind", "outcome"],
)
QUEUE_SECONDS = Histogram(
    "realm_inference_queue_seconds", "Time a request waited before joining the running batch",
    ["model"], buckets=_LATENCY_BUCKETS,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "realm_inference_time_to_first_token_seconds", "From submission to the first generated token",
    ["model"], buckets=_LATENCY_BUCKETS,
)
TIME_PER_OUTPUT_TOKEN = Histogram(
    "realm_inference_time_per_output_token_seconds", "Mean time per generated token after the first",
    ["model"], buckets=_TOKEN_BUCKETS,
)
BATCH_SIZE = Histogram(
    "realm_inference_batch_size", "Sequences in the running batch at each decoding step",
    ["model"], buckets=(1, 2, 4, 8, 16, 32, 64),
)
TOKENS_GENERATED = Counter("realm_inference_tokens_generated_total", "Generated tokens", ["model"])
ACTIVE_SEQUENCES = Gauge("realm_inference_active_sequences", "Sequences in the running batch", ["model"])
QUEUED_REQUESTS = Gauge("realm_inference_queued_requests", "Requests waiting for a batch slot", ["model"])
MODELS_LOADED = Gauge("realm_inference_models", "Models in the pool by state", ["state"])
