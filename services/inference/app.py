"""Wiring of the inference service: build the model pool from settings and register the servicer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import structlog

from realm.inference.v1 import inference_pb2_grpc
from services.inference.config import InferenceConfig
from services.inference.follow import AliasFollower, DefaultSpec
from services.inference.pool import BACKEND_TGI, LoadSpec, ModelPool
from services.inference.priority import Activity
from services.inference.servicer import InferenceServicer
from services.inference.task_board import TaskBoard
from services.inference.task_store import TaskStore
from services.inference.tgi import TgiBackend
from services.inference.transformers_backend import LoadOptions, TransformersBackend
from services.inference.vault_source import VaultCheckpointCache
from services.kit.server import ServiceServer

log = structlog.get_logger(__name__)

# Everything that generates or reads is open to the read role; loading and unloading need admin.
AUTH_RULES = {
    "Generate": "read", "GenerateStream": "read", "Chat": "read", "ChatStream": "read",
    "ListModels": "read", "GetModel": "read", "WatchModel": "read", "Tokenize": "read",
    "LoadModel": "admin", "UnloadModel": "admin",
    # Background tasks: anyone may look; registering, cancelling and running them (workers) needs admin.
    "GetTask": "read", "ListTasks": "read", "CreateTask": "admin", "CancelTask": "admin", "ClaimTask": "admin",
    "ReportTask": "admin", "FinishTask": "admin",
}


class _LazyVaultClient:
    """The vault SDK client, connected on first use (inference may run where no vault is ever asked)."""

    def __init__(self, settings) -> None:
        self._settings = settings
        self._client = None

    def __getattr__(self, name: str):
        if self._client is None:
            from realm.sdk import connect

            realm = connect(self._settings, token=self._settings.client_token())
            self.__dict__["_client"] = realm.vault
        return getattr(self._client, name)


def backend_factory(config: InferenceConfig):
    def build(spec: LoadSpec, location: str, model_id: str):
        if spec.backend == BACKEND_TGI:
            tokenizer = None
            tokenizer_dir = config.tgi_tokenizers.get(location)
            if tokenizer_dir:
                from transformers import AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
            return TgiBackend(location, timeout_seconds=config.tgi_timeout_seconds, tokenizer=tokenizer)
        options = LoadOptions(device=config.device, dtype=spec.dtype or config.dtype,
                              quantization=spec.quantization, adapter_base_dir=config.adapter_base_dir)
        return TransformersBackend.load(Path(location), options, limits=config.limits,
                                        engine_config=config.engine, model_label=model_id)

    return build


def build_pool(config: InferenceConfig, vault_client=None) -> ModelPool:
    cache = VaultCheckpointCache(vault_client, config.cache_dir) if vault_client is not None else None
    return ModelPool(backend_factory(config), replace(config.pool, on_demand=config.on_demand), cache,
                     limits=config.limits, tgi_checkpoint_dirs=config.tgi_tokenizers)


async def setup(server: ServiceServer) -> None:
    config = InferenceConfig.from_settings(server.settings)
    # One Activity for the host: the pool counts requests by priority, every engine admits interactive first.
    activity = Activity(config.background)
    config = replace(config, engine=replace(config.engine, activity=activity))
    vault = _LazyVaultClient(server.settings)
    pool = build_pool(config, vault)
    pool.activity = activity
    servicer = InferenceServicer(pool, config.limits)
    servicer.tasks = TaskBoard(TaskStore(config.tasks_db), activity)
    server.add(servicer, inference_pb2_grpc.add_InferenceServiceServicer_to_server,
               "realm.inference.v1.InferenceService")
    server.sqlite_store("tasks", config.tasks_db)
    server.on_shutdown(servicer.tasks.close)
    server.auth_rules(AUTH_RULES)
    server.on_shutdown(pool.close)
    default = None
    if config.default_model is not None:
        # Readiness is honest: NOT_SERVING until the configured default model is READY.
        server.set_serving(False)
        model = config.default_model
        default = DefaultSpec(model_id=model.model_id or "default", source=model.source, backend=model.backend,
                              campaign=model.campaign, fallback=model.fallback)

    def default_ready() -> None:
        log.info("default model ready", model=default.model_id)
        server.set_serving(True)

    # The follower keeps models loaded from an alias (the default above all) on the checkpoint it names now.
    follower = AliasFollower(pool, vault, default=default, retry_seconds=config.follow_retry_seconds,
                             on_default_ready=default_ready)
    follower.start()
    server.on_shutdown(follower.close)
