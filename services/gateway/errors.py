"""Error bodies in the shape each surface's clients parse: google.rpc.Status for the REST API (grpc-gateway's
status table), OpenAI's `{"error": {message, type, param, code}}`, and TGI's `{"error", "error_type"}`.
"""

from __future__ import annotations

import json
import re

import grpc
from aiohttp import web

# grpc-gateway runtime/errors.go HTTPStatusFromCode (FAILED_PRECONDITION deliberately 400, not 412).
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}
CODE_BY_HTTP = {400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED,
                403: grpc.StatusCode.PERMISSION_DENIED, 404: grpc.StatusCode.NOT_FOUND,
                405: grpc.StatusCode.UNIMPLEMENTED, 408: grpc.StatusCode.DEADLINE_EXCEEDED,
                409: grpc.StatusCode.ABORTED, 413: grpc.StatusCode.INVALID_ARGUMENT,
                415: grpc.StatusCode.INVALID_ARGUMENT, 421: grpc.StatusCode.INVALID_ARGUMENT,
                429: grpc.StatusCode.RESOURCE_EXHAUSTED, 499: grpc.StatusCode.CANCELLED,
                501: grpc.StatusCode.UNIMPLEMENTED, 503: grpc.StatusCode.UNAVAILABLE,
                504: grpc.StatusCode.DEADLINE_EXCEEDED}
_FIELD_PREFIX = re.compile(r"^([a-z_][a-z0-9_.\[\]]*): ")


class HttpError(ValueError):
    """A caller error found at the gateway (before any RPC): status, message, the field it is about."""

    def __init__(self, status: int, message: str, *, field: str | None = None, code: grpc.StatusCode | None = None,
                 close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.code = code or CODE_BY_HTTP.get(status, grpc.StatusCode.UNKNOWN)
        # Close the connection instead of draining an unread body (a rejected upload is never read).
        self.close = close


def rpc_failure(exc: grpc.RpcError) -> HttpError:
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    details = (exc.details() if callable(getattr(exc, "details", None)) else None) or code.name
    if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS):
        details = details if code is not grpc.StatusCode.UNKNOWN else "internal error"
    found = _FIELD_PREFIX.match(details)
    return HttpError(HTTP_STATUS.get(code, 500), details, field=found.group(1) if found else None, code=code)


def status_body(error: HttpError) -> dict:
    body: dict = {"code": error.code.value[0], "message": error.message, "details": []}
    if error.field and error.status == 400:
        body["details"].append({"@type": "type.googleapis.com/google.rpc.BadRequest",
                                "fieldViolations": [{"field": error.field, "description": error.message}]})
    return body


def _finish(response: web.Response, error: HttpError) -> web.Response:
    if error.close:
        response.force_close()
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="realm"'
    return response


def status_response(error: HttpError) -> web.Response:
    return _finish(web.json_response(status_body(error), status=error.status), error)


OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 409: "conflict_error", 413: "invalid_request_error",
                422: "invalid_request_error", 429: "rate_limit_error", 501: "not_implemented_error",
                503: "service_unavailable_error", 504: "timeout_error"}
# openai-python retries 408/409/429/5xx unless told otherwise; say so where a retry cannot help.
_RETRY_HELPS = {408, 429, 502, 503, 504}


def openai_body(error: HttpError) -> dict:
    return {"error": {"message": error.message, "type": OPENAI_TYPES.get(error.status, "server_error"),
                      "param": error.field, "code": error.code.name.lower()}}


def openai_response(error: HttpError) -> web.Response:
    response = web.json_response(openai_body(error), status=error.status)
    response.headers["x-should-retry"] = "true" if error.status in _RETRY_HELPS else "false"
    return _finish(response, error)


def tgi_error_type(error: HttpError) -> str:
    if error.status == 429:
        return "overloaded"
    if error.status in (400, 404, 413, 422):
        return "validation"
    return "generation"


def tgi_status(error: HttpError) -> int:
    """TGI: 422 validation, 424 generation failed, 429 overloaded; auth errors keep their own status."""
    if error.status in (401, 403, 413, 429):
        return error.status
    return 422 if tgi_error_type(error) == "validation" else 424


def tgi_body(error: HttpError) -> dict:
    return {"error": error.message, "error_type": tgi_error_type(error)}


def tgi_response(error: HttpError) -> web.Response:
    return _finish(web.json_response(tgi_body(error), status=tgi_status(error)), error)


def sse_data(payload: dict) -> bytes:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()
