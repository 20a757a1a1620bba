"""Wiring of the curriculum service: build domain objects from settings and register the servicer."""

from __future__ import annotations

import asyncio
import socket

from realm.curriculum.v1 import curriculum_pb2_grpc
from services.curriculum.config import CurriculumConfig
from services.curriculum.deliveries import Deliveries
from services.curriculum.domain import CurriculumDomain
from services.curriculum.evaluation import CheckpointFollower, EvaluationRunner, EvaluationStore
from services.curriculum.idle_tasks import IdleTasks, TrialsAndPassives
from services.curriculum.passives import Passives, PassivesConfig
from services.curriculum.passives_store import PassivesStore
from services.curriculum.remote import SdkInference, SdkTrainer, SdkVault
from services.curriculum.servicer import CurriculumServicer
from services.curriculum.votes import VoteBook
from services.kit.server import ServiceServer

# Pure computations any reader may run; everything that writes state needs admin (the kit's default).
READ_METHODS = ("GenerateBatch", "Grade", "ValidateDataset", "BuildSparringRows")


async def setup(server: ServiceServer) -> None:
    settings = server.settings
    config = CurriculumConfig.from_section(settings.section("curriculum"), data_dir=settings.data_dir,
                                           root=settings.root)
    # Opening SQLite stores is disk I/O: off the event loop.
    domain = await asyncio.to_thread(CurriculumDomain.from_config, config)
    # Trials reach inference and the vault only through the SDK, at the addresses realm.yaml names.
    from realm.sdk import connect

    realm = connect(settings, token=settings.client_token())
    vault = SdkVault(realm)
    # Sparring quests go to the trainer; without one in realm.yaml there is nobody to send them to.
    trainer_endpoint = settings.services.get("trainer")
    trainer = SdkTrainer(realm) if trainer_endpoint is not None and trainer_endpoint.enabled else None
    store = await asyncio.to_thread(EvaluationStore, config.evaluations_db)
    evaluations = await asyncio.to_thread(
        EvaluationRunner, store, domain.registry, domain.store, SdkInference(realm), vault,
        concurrency=config.eval_concurrency, policy=config.trials, sparring_enabled=trainer is not None)
    deliveries = Deliveries(evaluations, domain.store, vault, trainer)
    deliveries.start()
    servicer = CurriculumServicer(domain, evaluations)
    server.add(servicer, curriculum_pb2_grpc.add_CurriculumServiceServicer_to_server,
               "realm.curriculum.v1.CurriculumService")
    server.sqlite_store("progression", config.progression_db)  # backups by the kit (MaintenanceService)
    server.sqlite_store("evaluations", config.evaluations_db)
    servicer.votes = await asyncio.to_thread(VoteBook, config.state_dir / "votes.db")  # Oracle blind votes
    server.sqlite_store("votes", servicer.votes.path)
    server.on_shutdown(lambda: asyncio.to_thread(servicer.votes.close))
    server.auth_rules({m: "read" for m in READ_METHODS})
    # Callbacks run in reverse: evaluations stop (and save their state) before the stores close.
    server.on_shutdown(lambda: asyncio.to_thread(domain.close))
    server.on_shutdown(lambda: asyncio.to_thread(evaluations.close))
    server.on_shutdown(lambda: asyncio.to_thread(deliveries.close))
    # Transfer baselines and full evals of older checkpoints run as idle tasks on the inference host.
    servicer.passives = Passives(await asyncio.to_thread(PassivesStore, config.state_dir / "passives.db"),
                                 domain.registry, domain.store,
                                 PassivesConfig.from_section(settings.section("curriculum").get("passives")))
    server.sqlite_store("passives", servicer.passives.store.path)
    server.on_shutdown(lambda: asyncio.to_thread(servicer.passives.store.close))
    servicer.idle_tasks = IdleTasks(realm, servicer.passives, SdkInference(realm), vault,
                                    worker=f"curriculum@{socket.gethostname()}",
                                    outbox=store if trainer is not None else None,  # sparring tasks' quests
                                    sparring_max_rows=config.trials.sparring.max_rows)
    inference_endpoint = settings.services.get("inference")
    if inference_endpoint is not None and inference_endpoint.enabled:
        servicer.idle_tasks.start()
        server.on_shutdown(lambda: asyncio.to_thread(servicer.idle_tasks.close))
    if config.auto_evaluate:
        # New checkpoints in the vault get a trial without anyone asking (DESIGN flow 4), then their passives.
        follower = CheckpointFollower(TrialsAndPassives(evaluations, servicer.idle_tasks), vault)
        follower.start()
        server.on_shutdown(lambda: asyncio.to_thread(follower.close))
