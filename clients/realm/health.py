"""Probing a service's health: gRPC `grpc.health.v1` for gRPC services, HTTP /healthz for the gateway."""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from realm.settings import ServiceEndpoint

HTTP_SERVICES = ("gateway",)


@dataclass(frozen=True)
class Probe:
    service: str
    address: str
    state: str  # SERVING, NOT_SERVING, UNREACHABLE
    latency_ms: float
    error: str = ""

    @property
    def serving(self) -> bool:
        return self.state == "SERVING"


def probe(endpoint: ServiceEndpoint, timeout: float = 2.0) -> Probe:
    started = time.perf_counter()
    if endpoint.name in HTTP_SERVICES:
        return _probe_http(endpoint, timeout, started)
    try:
        with grpc.insecure_channel(endpoint.address) as channel:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
        state = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        state = "SERVING" if state == "SERVING" else "NOT_SERVING"
        return Probe(endpoint.name, endpoint.address, state, (time.perf_counter() - started) * 1000)
    except grpc.RpcError as exc:
        return Probe(endpoint.name, endpoint.address, "UNREACHABLE", (time.perf_counter() - started) * 1000,
                     f"{exc.code().name}: {exc.details()}")


def _probe_http(endpoint: ServiceEndpoint, timeout: float, started: float) -> Probe:
    url = f"http://{endpoint.address}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback/fleet address
            state = "SERVING" if response.status == 200 else "NOT_SERVING"
    except OSError as exc:
        status = getattr(exc, "code", None)
        state, error = ("NOT_SERVING", f"HTTP {status}") if status else ("UNREACHABLE", str(exc))
        return Probe(endpoint.name, endpoint.address, state, (time.perf_counter() - started) * 1000, error)
    return Probe(endpoint.name, endpoint.address, state, (time.perf_counter() - started) * 1000)
