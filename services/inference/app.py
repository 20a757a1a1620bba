"""Wiring of the inference service: build domain objects from settings and register the servicer."""

from __future__ import annotations

from realm.inference.v1 import inference_pb2_grpc
from services.kit.server import ServiceServer


async def setup(server: ServiceServer) -> None:
    # Until the domain lands, the generated base servicer answers UNIMPLEMENTED for every RPC.
    server.add(inference_pb2_grpc.InferenceServiceServicer(), inference_pb2_grpc.add_InferenceServiceServicer_to_server,
               "realm.inference.v1.InferenceService")
