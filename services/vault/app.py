"""Wiring of the vault service: build domain objects from settings and register the servicer."""

from __future__ import annotations

from realm.vault.v1 import vault_pb2_grpc
from services.kit.server import ServiceServer


async def setup(server: ServiceServer) -> None:
    # Until the domain lands, the generated base servicer answers UNIMPLEMENTED for every RPC.
    server.add(vault_pb2_grpc.VaultServiceServicer(), vault_pb2_grpc.add_VaultServiceServicer_to_server,
               "realm.vault.v1.VaultService")
