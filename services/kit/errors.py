"""Domain exceptions. Domain code raises these; the kit's interceptor maps them to gRPC status codes.

This module must never import grpc: it is the vocabulary shared by domain code and the transport edge.
"""

from __future__ import annotations


class RealmError(Exception):
    """Base of every error a service reports to its callers on purpose.

    `field` names the offending request field (or file line) so the message tells the caller what to fix.
    """

    code = "INTERNAL"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidArgument(RealmError):
    code = "INVALID_ARGUMENT"


class NotFound(RealmError):
    code = "NOT_FOUND"


class AlreadyExists(RealmError):
    code = "ALREADY_EXISTS"


class FailedPrecondition(RealmError):
    code = "FAILED_PRECONDITION"


class ResourceExhausted(RealmError):
    code = "RESOURCE_EXHAUSTED"


class Unavailable(RealmError):
    code = "UNAVAILABLE"


class PermissionDenied(RealmError):
    code = "PERMISSION_DENIED"


class Unauthenticated(RealmError):
    code = "UNAUTHENTICATED"


class Aborted(RealmError):
    code = "ABORTED"


class DeadlineExceeded(RealmError):
    code = "DEADLINE_EXCEEDED"
