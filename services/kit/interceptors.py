"""One server interceptor with four small parts, applied to every RPC in this order:

1. request id: taken from `x-request-id` metadata or minted, bound into structlog contextvars;
2. auth: bearer tokens with roles (`read` < `admin`), constant-time comparison; health and reflection open;
3. error mapping: domain exceptions -> status codes; anything unknown -> INTERNAL, logged, not echoed;
4. the canonical log line (method, code, duration_ms, request_id, peer) and Prometheus metrics.
"""

from __future__ import annotations

import hmac
import inspect
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import grpc
import structlog

from services.kit import errors
from services.kit.metrics import RPC_IN_FLIGHT, RPC_LATENCY, RPC_TOTAL

log = structlog.get_logger("realm.rpc")

OPEN_SERVICES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
READ_PREFIXES = ("Get", "List", "Watch", "Stream", "Resolve", "Query", "Download", "Estimate")
ROLE_RANK = {"read": 1, "admin": 2}

_STATUS_BY_NAME = {code.name: code for code in grpc.StatusCode}


def default_required_role(method_name: str) -> str:
    """Reads need `read`; anything that changes state needs `admin`."""
    return "read" if method_name.startswith(READ_PREFIXES) else "admin"


def status_for(error: errors.RealmError) -> grpc.StatusCode:
    return _STATUS_BY_NAME.get(error.code, grpc.StatusCode.INTERNAL)


@dataclass(frozen=True)
class Credential:
    token: bytes
    role: str
    name: str


class Authenticator:
    def __init__(self, tokens: Iterable[tuple[str, str, str]]) -> None:
        # (name, role, token) triples
        self._credentials = [Credential(t.encode(), role, name) for name, role, t in tokens]

    def identify(self, presented: str | None) -> Credential | None:
        if not presented:
            return None
        candidate = presented.encode()
        match = None
        for credential in self._credentials:  # compare against every token: no early exit
            if hmac.compare_digest(candidate, credential.token):
                match = credential
        return match


def _metadata(details: grpc.HandlerCallDetails) -> dict[str, str]:
    return {k.lower(): v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)}


class RealmServerInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        service: str,
        authenticator: Authenticator,
        role_overrides: Mapping[str, str] | None = None,
    ) -> None:
        self._service = service
        self._auth = authenticator
        self.role_overrides: dict[str, str] = dict(role_overrides or {})

    def required_role(self, full_method: str) -> str | None:
        if full_method.startswith(OPEN_SERVICES):
            return None
        method = full_method.rsplit("/", 1)[-1]
        return self.role_overrides.get(method) or default_required_role(method)

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        metadata = _metadata(handler_call_details)
        request_id = metadata.get("x-request-id") or uuid.uuid4().hex
        refusal = self._check_auth(method, metadata)
        return _wrap(handler, _Call(self, method, request_id, refusal))

    def _check_auth(self, method: str, metadata: dict[str, str]) -> tuple[grpc.StatusCode, str] | None:
        needed = self.required_role(method)
        if needed is None:
            return None
        header = metadata.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            return grpc.StatusCode.UNAUTHENTICATED, "missing bearer token (metadata 'authorization: Bearer <token>')"
        if scheme.lower() != "bearer" or not token.strip():
            return grpc.StatusCode.UNAUTHENTICATED, "authorization metadata must be 'Bearer <token>'"
        credential = self._auth.identify(token.strip())
        if credential is None:
            return grpc.StatusCode.UNAUTHENTICATED, "invalid bearer token"
        if ROLE_RANK[credential.role] < ROLE_RANK[needed]:
            return grpc.StatusCode.PERMISSION_DENIED, f"{method} needs role '{needed}', token has '{credential.role}'"
        return None


class _Call:
    """Everything the wrapper needs to run one RPC: identity, auth verdict, logging, metrics."""

    def __init__(self, owner: RealmServerInterceptor, method: str, request_id: str, refusal) -> None:
        self.owner = owner
        self.method = method
        self.request_id = request_id
        self.refusal = refusal
        self.short_method = method.rsplit("/", 1)[-1]
        self.code = grpc.StatusCode.OK
        self.started = 0.0
        self.peer = ""

    def begin(self, context) -> None:
        self.started = time.perf_counter()
        # Read the peer now: touching the context after a client cancelled a stream can crash grpc's C core.
        self.peer = _peer(context)
        structlog.contextvars.bind_contextvars(request_id=self.request_id, rpc=self.short_method)
        RPC_IN_FLIGHT.labels(self.owner._service, self.short_method).inc()
        try:
            context.set_trailing_metadata((("x-request-id", self.request_id),))
        except Exception:  # trailing metadata is best effort (e.g. already sent)
            pass

    async def refuse_if_needed(self, context) -> None:
        if self.refusal is not None:
            code, message = self.refusal
            self.code = code
            await context.abort(code, message)

    async def fail(self, context, exc: BaseException) -> None:
        if isinstance(exc, NotImplementedError):
            self.code = grpc.StatusCode.UNIMPLEMENTED
            await context.abort(self.code, f"{self.short_method} is not implemented yet")
        if isinstance(exc, errors.RealmError):
            self.code = status_for(exc)
            await context.abort(self.code, exc.describe())
        self.code = grpc.StatusCode.INTERNAL
        log.exception("unhandled error", method=self.method)
        await context.abort(grpc.StatusCode.INTERNAL, f"internal error (request id {self.request_id})")

    async def handle_exception(self, context, exc: BaseException) -> None:
        """Aborts and cancellations pass through (noted); everything else is mapped to a status."""
        if _is_abort(exc):
            if self.code == grpc.StatusCode.OK:
                self.note_abort(context)
            raise exc
        if not isinstance(exc, Exception):  # cancelled: the client went away
            self.code = grpc.StatusCode.CANCELLED
            raise exc
        await self.fail(context, exc)

    def note_abort(self, context) -> None:
        """The handler aborted with a status of its own; read it while the call is still alive."""
        try:
            reported = context.code()
        except Exception:
            reported = None
        if reported is not None:
            self.code = reported if isinstance(reported, grpc.StatusCode) else _code_from_int(reported)

    def end(self) -> None:
        """Account for the finished call without touching its context (see begin)."""
        code = self.code
        duration = time.perf_counter() - self.started
        service = self.owner._service
        RPC_IN_FLIGHT.labels(service, self.short_method).dec()
        RPC_LATENCY.labels(service, self.short_method).observe(duration)
        RPC_TOTAL.labels(service, self.short_method, code.name).inc()
        if not self.method.startswith(OPEN_SERVICES):
            log.info(
                "rpc",
                method=self.method,
                code=code.name,
                duration_ms=round(duration * 1000, 3),
                request_id=self.request_id,
                peer=self.peer,
            )
        structlog.contextvars.unbind_contextvars("request_id", "rpc")


def _code_from_int(value) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code.value[0] == value:
            return code
    return grpc.StatusCode.UNKNOWN


def _peer(context) -> str:
    try:
        return context.peer()
    except Exception:
        return ""


def _is_abort(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AbortError)


def _wrap(handler: grpc.RpcMethodHandler, call: _Call) -> grpc.RpcMethodHandler:
    if handler.unary_unary or handler.stream_unary:
        inner = handler.unary_unary or handler.stream_unary

        async def unary_response(request_or_iterator, context):
            call.begin(context)
            try:
                await call.refuse_if_needed(context)
                result = inner(request_or_iterator, context)
                return await result if inspect.isawaitable(result) else result
            except BaseException as exc:  # noqa: BLE001 - mapped or re-raised by handle_exception
                await call.handle_exception(context, exc)
            finally:
                call.end()

        factory = grpc.unary_unary_rpc_method_handler if handler.unary_unary else grpc.stream_unary_rpc_method_handler
        return factory(
            unary_response,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    inner_stream: Callable = handler.unary_stream or handler.stream_stream

    async def stream_response(request_or_iterator, context):
        call.begin(context)
        try:
            await call.refuse_if_needed(context)
            result = inner_stream(request_or_iterator, context)
            if hasattr(result, "__aiter__"):
                async for item in result:
                    yield item
            else:  # a handler that writes with context.write() returns a coroutine
                await result
        except BaseException as exc:  # noqa: BLE001 - mapped or re-raised by handle_exception
            await call.handle_exception(context, exc)
        finally:
            call.end()

    factory = grpc.unary_stream_rpc_method_handler if handler.unary_stream else grpc.stream_stream_rpc_method_handler
    return factory(
        stream_response,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
