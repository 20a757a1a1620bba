"""The gateway: the REST API under /api (transcoded from the protos' http annotations, SSE for server streams),
OpenAI-compatible HTTP under /v1, TGI-compatible HTTP at /, the Tavern UI, an OpenAPI document + docs page,
browser sessions, and /metrics. It owns nothing durable; every call goes to a service over grpc.aio with the
caller's own token (never the gateway's environment), and the services enforce roles.

Namespaces: /api/v1/... (REST), /v1/... (OpenAI), /, /generate, /generate_stream, /info, /health, /tokenize,
/metrics (TGI), /tavern/... and GET / (UI), /openapi.json and /docs, /api/session (sign-in), /healthz.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from realm.sdk.aio import AsyncRealm
from services.gateway import docs_page
from services.gateway.config import GatewayConfig
from services.gateway.config_view import config_handler
from services.gateway.edge import Metrics, make_middlewares, public
from services.gateway.errors import HttpError
from services.gateway.openai_routes import OpenAIRoutes
from services.gateway.openapi import openapi_document
from services.gateway.sessions import SessionStore
from services.gateway.tgi_routes import TgiRoutes
from services.gateway.transcoding import PREFIX, Transcoder, all_routes

TAVERN_DIR = Path(__file__).parent / "tavern"
GATEWAY_KEY = web.AppKey("gateway", object)
STATIC_TYPES = {".html": "text/html", ".js": "application/javascript", ".css": "text/css", ".svg": "image/svg+xml",
                ".png": "image/png", ".ico": "image/x-icon", ".json": "application/json"}

__all__ = ["Gateway", "all_routes", "create_app", "make_runner"]


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.realm = AsyncRealm(config.addresses)
        self.sessions = SessionStore(config)
        self.transcoder = Transcoder(config, self.realm, self.metrics)
        self.openai = OpenAIRoutes(config, self.realm, self.metrics)
        self.tgi = TgiRoutes(config, self.realm, self.metrics)
        self.routes = self.transcoder.routes
        self._openapi = openapi_document(self.routes, PREFIX)

    @public
    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "SERVING"})

    @public
    async def metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @public
    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(self._openapi)

    @public
    async def tavern_index(self, request: web.Request) -> web.StreamResponse:
        return self._static("index.html")

    @public
    async def tavern_file(self, request: web.Request) -> web.StreamResponse:
        return self._static(request.match_info["file"])

    def _static(self, name: str) -> web.StreamResponse:
        # Only files that are really in the Tavern directory (no "..", no sub-paths): a fixed listing.
        path = TAVERN_DIR / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise HttpError(404, f"no Tavern file {name!r}")
        kind = STATIC_TYPES.get(path.suffix, "application/octet-stream")
        return web.FileResponse(path, headers={"Content-Type": kind, "Cache-Control": "no-cache"})

    async def close(self) -> None:
        await self.realm.close()


def create_app(config: GatewayConfig) -> web.Application:
    gateway = Gateway(config)
    middlewares = make_middlewares(config, gateway.metrics, gateway.sessions, gateway.transcoder.label)
    app = web.Application(middlewares=middlewares,
                          client_max_size=config.limits.json_bytes)
    add = app.router
    add.add_get("/healthz", gateway.healthz)
    add.add_get("/metrics", gateway.metrics_page)
    add.add_get("/openapi.json", gateway.openapi)
    add.add_get("/docs", docs_page.docs)
    add.add_get("/docs/docs.js", docs_page.docs_script)
    add.add_get("/docs/docs.css", docs_page.docs_style)
    add.add_get("/", gateway.tavern_index)
    add.add_get("/tavern/{file}", gateway.tavern_file)
    # browser sessions for the Tavern
    add.add_post("/api/session", gateway.sessions.sign_in)
    add.add_get("/api/session", gateway.sessions.describe)
    add.add_delete("/api/session", gateway.sessions.sign_out)
    add.add_get("/api/config", config_handler(config.effective))  # effective realm.yaml, secrets redacted
    # OpenAI-compatible
    add.add_get("/v1/models", gateway.openai.list_models)
    add.add_get("/v1/models/{model:.+}", gateway.openai.get_model)
    add.add_post("/v1/chat/completions", gateway.openai.chat)
    add.add_post("/v1/completions", gateway.openai.completions)
    # TGI-compatible
    add.add_post("/", gateway.tgi.generate)
    add.add_post("/generate", gateway.tgi.generate)
    add.add_post("/generate_stream", gateway.tgi.generate)
    add.add_get("/info", gateway.tgi.info)
    add.add_get("/health", gateway.tgi.health)
    add.add_post("/tokenize", gateway.tgi.tokenize)
    # the transcoded REST API
    add.add_route("*", PREFIX + "/{tail:.*}", gateway.transcoder.handle)
    app[GATEWAY_KEY] = gateway

    async def open_sessions(_app: web.Application) -> None:
        await asyncio.to_thread(gateway.sessions.open)  # the signing key and sign-out list, from the data dir

    async def close(_app: web.Application) -> None:
        await gateway.close()
        gateway.sessions.close()

    app.on_startup.append(open_sessions)
    app.on_cleanup.append(close)
    return app


def make_runner(app: web.Application) -> web.AppRunner:
    """Cancel a handler when its client disconnects (an abandoned stream cancels its gRPC call at once), and close
    a connection that has not sent its request headers — or sat idle — for header_timeout_seconds."""
    config: GatewayConfig = app[GATEWAY_KEY].config
    return web.AppRunner(app, handler_cancellation=True, shutdown_timeout=5.0,
                         keepalive_timeout=config.header_timeout_seconds, lingering_time=0)
