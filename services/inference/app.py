"""Wiring of the inference service: build the model pool from settings and register the servicer."""

from __future__ import annotations

import asyncio

import structlog

from realm.inference.v1 import inference_pb2_grpc
from services.inference.config import InferenceConfig
from services.inference.pool import BACKEND_TGI, LoadSpec, ModelPool
from services.inference.servicer import InferenceServicer
from services.inference.tgi import TgiBackend
from services.inference.transformers_backend import LoadOptions, TransformersBackend
from services.inference.vault_source import VaultCheckpointCache
from services.kit.server import ServiceServer

log = structlog.get_logger(__name__)

# Everything that generates or reads is open to the read role; loading and unloading need admin.
AUTH_RULES = {
    "Generate": "read", "GenerateStream": "read", "Chat": "read", "ChatStream": "read",
    "ListModels": "read", "GetModel": "read", "WatchModel": "read",
    "LoadModel": "admin", "UnloadModel": "admin",
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
        from pathlib import Path

        options = LoadOptions(device=config.device, dtype=spec.dtype or config.dtype,
                              quantization=spec.quantization, adapter_base_dir=config.adapter_base_dir)
        return TransformersBackend.load(Path(location), options, limits=config.limits,
                                        engine_config=config.engine, model_label=model_id)

    return build


def build_pool(config: InferenceConfig, vault_client=None) -> ModelPool:
    cache = VaultCheckpointCache(vault_client, config.cache_dir) if vault_client is not None else None
    return ModelPool(backend_factory(config), config.pool, cache)


async def setup(server: ServiceServer) -> None:
    config = InferenceConfig.from_settings(server.settings)
    pool = build_pool(config, _LazyVaultClient(server.settings))
    server.add(InferenceServicer(pool, config.limits), inference_pb2_grpc.add_InferenceServiceServicer_to_server,
               "realm.inference.v1.InferenceService")
    server.auth_rules(AUTH_RULES)
    server.on_shutdown(pool.close)
    if config.default_model is not None:
        # Readiness is honest: NOT_SERVING until the configured default model is READY.
        server.set_serving(False)
        default = config.default_model
        spec = LoadSpec(source=default.source, model_id=default.model_id, backend=default.backend)

        async def load_default() -> None:
            try:
                view = await pool.load(spec, wait=True)
            except Exception as error:
                log.error("default model failed to load; staying NOT_SERVING", source=default.source,
                          error=str(error))
                return
            log.info("default model ready", model=view.name)
            server.set_serving(True)

        task = asyncio.get_running_loop().create_task(load_default())
        server.on_shutdown(task.cancel)
