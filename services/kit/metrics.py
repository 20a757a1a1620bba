"""Prometheus metrics shared by every service: RPC count, latency histogram, in-flight gauge."""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server

RPC_TOTAL = Counter("realm_rpc_total", "RPCs handled", ["service", "method", "code"])
RPC_LATENCY = Histogram(
    "realm_rpc_duration_seconds",
    "RPC duration (streams: until the stream ends)",
    ["service", "method"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RPC_IN_FLIGHT = Gauge("realm_rpc_in_flight", "RPCs in progress", ["service", "method"])


def start_metrics_server(port: int, host: str = "127.0.0.1"):
    """Serve /metrics on its own HTTP port; returns (server, thread) so shutdown can close it."""
    return start_http_server(port, addr=host, registry=REGISTRY)
