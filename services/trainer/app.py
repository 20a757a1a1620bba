"""Wiring of the trainer service: build domain objects from settings and register the servicer."""

from __future__ import annotations

from realm.trainer.v1 import trainer_pb2_grpc
from services.kit.server import ServiceServer


async def setup(server: ServiceServer) -> None:
    # Until the domain lands, the generated base servicer answers UNIMPLEMENTED for every RPC.
    server.add(trainer_pb2_grpc.TrainerServiceServicer(), trainer_pb2_grpc.add_TrainerServiceServicer_to_server,
               "realm.trainer.v1.TrainerService")
