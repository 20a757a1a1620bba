"""Wiring of the trainer service: build the domain from settings, connect its ports through the SDK, register
the servicer, start the controller, the outbox drainer and the vault-ledger follower, and stop them on shutdown."""

from __future__ import annotations

from realm.trainer.v1 import trainer_pb2_grpc
from services.kit.server import ServiceServer
from services.trainer.config import TrainerConfig
from services.trainer.domain import TrainerDomain
from services.trainer.remote import CurriculumPort, LedgerPort, VaultPort
from services.trainer.servicer import TrainerServicer


def build_domain(settings, *, realm=None) -> TrainerDomain:
    """The trainer domain for these settings; `realm` (a connected SDK) defaults to one built from them."""
    from realm.sdk import connect

    options = TrainerConfig.from_section(settings.section("trainer"), data_dir=settings.data_dir, root=settings.root)
    realm = realm or connect(settings, token=settings.client_token())
    vault = VaultPort(realm) if "vault" in realm.addresses else None
    curriculum = CurriculumPort(realm, level=options.validation_level)
    ledger = LedgerPort(realm) if vault is not None else None
    return TrainerDomain(options, validator=curriculum, registry=vault, assets=vault, planner=curriculum,
                         ledger=ledger, levels=curriculum)


async def setup(server: ServiceServer, *, domain: TrainerDomain | None = None) -> None:
    """`domain`: one built by the caller (tests keep a handle on it); default: from the server's settings."""
    domain = domain or build_domain(server.settings)
    server.add(TrainerServicer(domain), trainer_pb2_grpc.add_TrainerServiceServicer_to_server,
               "realm.trainer.v1.TrainerService")
    server.sqlite_store("trainer", domain.store.path)  # backups by the kit (MaintenanceService)
    server.auth_rules({"ValidateTrainingConfig": "read"})  # a dry-run writes nothing
    await domain.start()
    server.on_shutdown(domain.close)
