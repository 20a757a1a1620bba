"""The HTTP edge: request ids, Host allow-list, caller identity before any body is read, body limits and JSON
depth, security headers, and metrics labelled by the HTTP status actually sent.

Every error is rendered in the shape of the surface it belongs to (see `surface_of`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.gateway import errors
from services.gateway.config import GatewayConfig
from services.gateway.errors import HttpError
from services.kit.logs import get_logger

log = get_logger("realm.gateway")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
TGI_PATHS = frozenset({"/", "/generate", "/generate_stream", "/info", "/health", "/tokenize"})
_DEPTH = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _DEPTH)


class Metrics:
    """The gateway's own registry (served at /metrics), so several gateways in one process stay apart."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("realm_gateway_http_requests_total", "HTTP requests by route and status sent",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("realm_gateway_http_request_duration_seconds", "Until the response ended",
                                 ["route"], registry=self.registry,
                                 buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30))
        self.streams = Gauge("realm_gateway_upstream_streams_in_flight", "Server-streaming RPCs the gateway holds",
                             ["route"], registry=self.registry)
        self.sse_clients = Gauge("realm_gateway_sse_clients", "SSE responses being written", ["route"],
                                 registry=self.registry)

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@dataclass(frozen=True)
class Caller:
    token: str | None
    role: str | None
    via_cookie: bool = False


REQUEST_ID_KEY = web.RequestKey("request_id", str)
CALLER_KEY = web.RequestKey("caller", Caller)
ROUTE_LABEL_KEY = web.RequestKey("route_label", str)


def surface_of(path: str) -> str:
    if path.startswith("/v1/"):
        return "openai"
    if path in TGI_PATHS:
        return "tgi"
    return "rest"


def error_response(request: web.Request, error: HttpError) -> web.Response:
    surface = surface_of(request.path)
    if surface == "openai":
        return errors.openai_response(error)
    if surface == "tgi":
        return errors.tgi_response(error)
    return errors.status_response(error)


def public(handler):
    """Mark a handler that needs no caller identity (the UI's static files, health, docs, metrics)."""
    handler.gateway_public = True
    return handler


def host_allowed(host_header: str, allowed: frozenset[str]) -> bool:
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host in allowed


def make_middlewares(config: GatewayConfig, metrics: Metrics, sessions,
                     api_label: Callable[[web.Request], str] | None = None) -> list:
    """`api_label` names the REST route a request is for (its template), for metrics even when it fails early."""

    @web.middleware
    async def observe(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if REQUEST_ID.fullmatch(incoming) else f"gw-{next(_ids):x}-{time.time_ns():x}"
        request[REQUEST_ID_KEY] = request_id
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
        except HttpError as error:
            response = error_response(request, error)
            status = response.status
        except web.HTTPException as exc:  # aiohttp's own 404/405 for paths no route knows
            code = exc.status
            response = error_response(request, HttpError(code, exc.reason or "not found"))
            status = response.status
        except asyncio.CancelledError:
            status = 499  # the client went away
            raise
        except Exception:
            log.exception("unhandled", path=request.path, request_id=request_id)
            response = error_response(request, HttpError(500, "internal error"))
            status = 500
        finally:
            label = request.get(ROUTE_LABEL_KEY) or _route_label(request, api_label)
            metrics.requests.labels(label, request.method, str(status)).inc()
            metrics.latency.labels(label).observe(time.perf_counter() - started)
        if not response.prepared:
            response.headers["X-Request-Id"] = request_id
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            if response.content_type == "text/html":
                response.headers["Content-Security-Policy"] = CSP
                response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @web.middleware
    async def guard(request: web.Request, handler):
        if config.allowed_hosts and not host_allowed(request.headers.get("Host", ""), config.allowed_hosts):
            raise HttpError(421, f"Host {request.headers.get('Host', '')!r} is not served here "
                                 "(gateway.allowed_hosts in realm.yaml)", close=True)
        handler_fn = request.match_info.handler
        is_public = getattr(handler_fn, "gateway_public", False)
        try:
            caller = identify(request, config, sessions)
        except HttpError:
            if not is_public:
                raise
            caller = Caller(None, None)  # a bad credential on an open page is just an anonymous visit
        request[CALLER_KEY] = caller
        if not is_public and caller.token is None:
            raise HttpError(401, "missing or unknown credentials: send 'Authorization: Bearer <token>' "
                                 "or sign in at POST /api/session", close=True)
        if caller.via_cookie and request.method in UNSAFE_METHODS:
            sessions.check_csrf(request)
        return await handler(request)

    return [observe, guard]


_ids = itertools.count(1)


def _route_label(request: web.Request, api_label) -> str:
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    if api_label is not None and resource.canonical.endswith("{tail}"):
        return api_label(request)
    return resource.canonical


def identify(request: web.Request, config: GatewayConfig, sessions) -> Caller:
    """Who is calling: a bearer token the realm knows, or a signed-in session. Unknown tokens are refused here,
    before any body is read; roles are still enforced by each service."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise HttpError(401, "Authorization must be 'Bearer <token>'", close=True)
        role = config.role_of(token)
        if role is None:
            raise HttpError(401, "unknown bearer token", close=True)
        return Caller(token, role)
    session = sessions.from_request(request)
    if session is not None:
        return Caller(session.token, session.role, via_cookie=True)
    return Caller(None, None)


def check_length(request: web.Request, limit: int) -> None:
    if request.content_length is not None and request.content_length > limit:
        raise HttpError(413, f"request body of {request.content_length} bytes exceeds this route's limit of "
                             f"{limit} bytes", close=True)


async def body_chunks(request: web.Request, limit: int, idle_seconds: float):
    """The body as it arrives, never more than `limit` bytes; a stall longer than idle_seconds is a 408."""
    check_length(request, limit)
    total = 0
    while True:
        try:
            async with asyncio.timeout(idle_seconds):
                chunk = await request.content.readany()
        except TimeoutError:
            raise HttpError(408, f"request body stalled for {idle_seconds:g} s", close=True) from None
        if not chunk:
            return
        total += len(chunk)
        if total > limit:
            raise HttpError(413, f"request body exceeds this route's limit of {limit} bytes", close=True)
        yield chunk


async def read_body(request: web.Request, limit: int, idle_seconds: float) -> bytes:
    return b"".join([chunk async for chunk in body_chunks(request, limit, idle_seconds)])


def json_depth(raw: bytes) -> int:
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(itertools.accumulate(_DEPTH[b] for b in brackets))


def parse_json(raw: bytes, max_depth: int, *, allow_empty: bool = True) -> object:
    if not raw.strip():
        if allow_empty:
            return None
        raise HttpError(400, "request body: expected a JSON object, got nothing", field="body")
    depth = json_depth(raw)
    if depth > max_depth:
        raise HttpError(400, f"request body: JSON nested {depth} levels deep; at most {max_depth} are accepted",
                        field="body")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise HttpError(400, f"request body: invalid JSON ({exc})", field="body") from None


async def read_json(request: web.Request, config: GatewayConfig, limit: int, *, allow_empty: bool = True):
    return parse_json(await read_body(request, limit, config.body_idle_seconds), config.max_json_depth,
                      allow_empty=allow_empty)
