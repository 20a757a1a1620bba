"""Wiring of the curriculum service: build domain objects from settings and register the servicer."""

from __future__ import annotations

from realm.curriculum.v1 import curriculum_pb2_grpc
from services.kit.server import ServiceServer


async def setup(server: ServiceServer) -> None:
    # Until the domain lands, the generated base servicer answers UNIMPLEMENTED for every RPC.
    server.add(curriculum_pb2_grpc.CurriculumServiceServicer(), curriculum_pb2_grpc.add_CurriculumServiceServicer_to_server,
               "realm.curriculum.v1.CurriculumService")
