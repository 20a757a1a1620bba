"""The REST API under /api: every RPC at its `google.api.http` path, bound by the annotation's rules.

Unary RPCs answer JSON (proto3 JSON mapping, proto field names); errors are google.rpc.Status bodies with
grpc-gateway's status table. Server streams become Server-Sent Events whose `id:` is the stream's sequence:
event streams (requests with `after_sequence` and `from_now`) resume after `Last-Event-ID` (or `?last_event_id=`)
and start from now (the service's `from_now`: nothing is replayed) unless `?replay=true`, `history_only` or an
explicit `after_sequence` asks for history; other streams number their events, and a deterministic one (not a `Watch*`
snapshot) resumes by skipping what was already delivered.
Client streams take the raw request body, streamed in chunks, with the header fields from the query string.
"""

from __future__ import annotations

import asyncio

import grpc
from aiohttp import web
from google.protobuf import json_format, message_factory

from realm.sdk.aio import AsyncRealm
from realm.sdk.core import SERVICES
from realm.sdk.maintenance import MAINTENANCE
from services.gateway.config import GatewayConfig
from services.gateway.edge import CALLER_KEY, REQUEST_ID_KEY, ROUTE_LABEL_KEY, Metrics, body_chunks, read_json
from services.gateway.errors import HttpError, rpc_failure, status_body
from services.gateway.routes import Route, build_request, parse_into, query_to_dict, routes_for
from services.gateway.sse import SseWriter, UpstreamStream, relay

PREFIX = "/api"
CHUNK_BYTES = 1 << 20
SSE_QUERY = ("last_event_id", "replay")


def all_routes() -> list[Route]:
    """Every service's own routes, plus the kit's MaintenanceService (served by every service; its routes name
    the service in the path: /api/v1/services/{service}/backups...)."""
    routes = []
    for name, spec in [*SERVICES.items(), (MAINTENANCE.name, MAINTENANCE)]:
        descriptor = spec.module.DESCRIPTOR.services_by_name[spec.full_name.rsplit(".", 1)[-1]]
        routes += routes_for(name, descriptor, prefix=PREFIX)
    return routes


def maintained_service(caller, path_values: dict[str, str]) -> str:
    """The service a MaintenanceService call is for, from `services/{service}` in its parent or name; admin only
    (checked here too, so other callers learn nothing about which services exist)."""
    if caller.role is None:
        raise HttpError(401, "backups need the admin token", code=grpc.StatusCode.UNAUTHENTICATED)
    if caller.role != "admin":
        raise HttpError(403, "backups need the admin role", code=grpc.StatusCode.PERMISSION_DENIED)
    field, value = next(iter(path_values.items()))
    service = value.split("/")[1]
    if service not in SERVICES:
        raise HttpError(404, f"{field}: no service named {service!r} (services: {', '.join(SERVICES)})",
                        field=field, code=grpc.StatusCode.NOT_FOUND)
    return service


def to_json(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def is_event_stream(route: Route) -> bool:
    """Requests with after_sequence + from_now and responses carrying `event.sequence`: resumable by sequence,
    and started from now by the service itself."""
    inputs = route.method.input_type.fields_by_name
    output = route.method.output_type.fields_by_name.get("event")
    return ("after_sequence" in inputs and "from_now" in inputs and output is not None
            and output.message_type is not None and "sequence" in output.message_type.fields_by_name)


def _event_id(value: str, where: str) -> int:
    if not value.isdigit():
        raise HttpError(400, f"{where}: expected a non-negative integer event id, got {value!r}", field=where)
    return int(value)


class Transcoder:
    def __init__(self, config: GatewayConfig, realm: AsyncRealm, metrics: Metrics) -> None:
        self.config = config
        self.realm = realm
        self.metrics = metrics
        self.routes = all_routes()
        self._by_verb: dict[str, list[Route]] = {}
        for route in self.routes:
            self._by_verb.setdefault(route.verb, []).append(route)

    def match(self, verb: str, path: str) -> tuple[Route, dict[str, str]]:
        for route in self._by_verb.get(verb, ()):
            values = route.match_path(path)
            if values is not None:
                return route, values
        other_verbs = []
        for route in self.routes:
            values = route.match_path(path)
            if values is None:
                continue
            if route.verb == verb:
                return route, values
            other_verbs.append(route.verb)
        if other_verbs:
            raise HttpError(405, f"{verb} is not allowed on {PREFIX}{path}; use {', '.join(sorted(other_verbs))}")
        raise HttpError(404, f"no API route for {verb} {PREFIX}{path}")

    def label(self, request: web.Request) -> str:
        """The route's template for metrics (bounded: never the raw path)."""
        try:
            route, _ = self.match(request.method, request.rel_url.raw_path[len(PREFIX):])
        except HttpError:
            return PREFIX + "/(unmatched)"
        return PREFIX + route.template

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.rel_url.raw_path
        route, path_values = self.match(request.method, raw_path[len(PREFIX):])
        label = PREFIX + route.template
        request[ROUTE_LABEL_KEY] = label
        caller = request[CALLER_KEY]
        realm = self.realm.for_token(caller.token, request_id=request[REQUEST_ID_KEY])
        maintenance = route.service == MAINTENANCE.name
        service = maintained_service(caller, path_values) if maintenance else route.service
        if not realm.has(service):
            raise HttpError(503, f"the {service} service is not configured for this gateway",
                            code=grpc.StatusCode.UNAVAILABLE)
        client = realm.client(service, MAINTENANCE if maintenance else None)
        message_class = message_factory.GetMessageClass(route.method.input_type)
        call = getattr(client, route.method.name)
        if route.client_streaming:
            return await self._upload(request, route, call, message_class, path_values)
        query = list(request.query.items())
        sse_params = {}
        if route.server_streaming:
            sse_params = {k: v for k, v in query if k in SSE_QUERY}
            query = [(k, v) for k, v in query if k not in SSE_QUERY]
        body = await read_json(request, self.config, self.config.limits.json_bytes) if route.body else None
        message = build_request(route, message_class, path_values, query, body)
        if route.server_streaming:
            return await self._stream(request, route, label, call, message, sse_params)
        try:
            reply = await call(message)
        except grpc.RpcError as exc:
            raise rpc_failure(exc) from None
        return web.json_response(to_json(reply))

    # -- server streams -------------------------------------------------------------------------------------------
    async def _stream(self, request, route, label, call, message, sse_params) -> web.StreamResponse:
        header = request.headers.get("Last-Event-ID")
        resume_after = None
        if header is not None and header.strip():
            resume_after = _event_id(header.strip(), "Last-Event-ID")
        elif "last_event_id" in sse_params:
            resume_after = _event_id(sse_params["last_event_id"], "last_event_id")
        replay = sse_params.get("replay", "false").lower()
        if replay not in ("true", "false", "1", "0"):
            raise HttpError(400, f"replay: expected true or false, got {replay!r}", field="replay")
        if is_event_stream(route):
            if resume_after is not None:
                message.after_sequence = resume_after
                message.from_now = False  # a resume replays everything after the client's last event
            elif message.after_sequence == 0 and replay in ("false", "0") and not message.history_only:
                message.from_now = True  # the service follows only what comes after this call: no replay
            elif message.from_now:
                raise HttpError(400, "from_now=true contradicts replay=true; give one of them", field="from_now")
            frame = _sequence_framer()
        else:
            frame = _counter_framer(resume_after or 0, skip=0 if route.method.name.startswith("Watch")
                                    else (resume_after or 0))
        writer = SseWriter(request, self.metrics, label)
        upstream = UpstreamStream(call(message), self.metrics, label)
        try:
            await writer.open()
            await relay(writer, upstream, self.config.heartbeat_seconds, frame,
                        lambda exc: status_body(rpc_failure(exc)))
        except (ConnectionResetError, ConnectionError):
            pass  # the client left; finally cancels upstream
        finally:
            upstream.close()
            writer.close()
        return writer.response

    # -- client streams (uploads) ---------------------------------------------------------------------------------
    async def _upload(self, request, route, call_method, message_class, path_values) -> web.StreamResponse:
        header_field = next(f for f in message_class.DESCRIPTOR.fields if f.message_type is not None)
        header = message_factory.GetMessageClass(header_field.message_type)()
        query = list(request.query.items())
        if query:
            parse_into(query_to_dict(header.DESCRIPTOR, query), header, where="query")
        for field, value in path_values.items():
            setattr(header, field.split(".")[-1], value)
        failure: list[HttpError] = []
        holder: dict = {}

        async def messages():
            yield message_class(**{header_field.name: header})
            try:
                async for chunk in body_chunks(request, self.config.limits.upload_bytes,
                                               self.config.body_idle_seconds):
                    for start in range(0, len(chunk), CHUNK_BYTES):
                        yield message_class(chunk=chunk[start : start + CHUNK_BYTES])
            except HttpError as error:
                failure.append(error)
                holder["call"].cancel()  # never let a cut-short body commit as if it were whole

        call = holder["call"] = call_method(messages())
        try:
            reply = await call
        except (grpc.RpcError, asyncio.CancelledError) as exc:
            if failure:
                raise failure[0] from None
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise rpc_failure(exc) from None
        finally:
            if not call.done():
                call.cancel()
        return web.json_response(to_json(reply))


def _sequence_framer():
    def frame(item):
        return to_json(item), item.event.sequence

    return frame


def _counter_framer(start: int, *, skip: int):
    state = {"seen": 0, "next_id": start + 1}

    def frame(item):
        state["seen"] += 1
        if state["seen"] <= skip:
            return None
        event_id = state["next_id"]
        state["next_id"] += 1
        return to_json(item), event_id

    return frame
