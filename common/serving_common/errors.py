"""One error hierarchy for every service.

Client mistakes (4xx) and our failures (5xx) are separate branches under :class:`PlatformError`.
Each class carries its HTTP status and a stable machine-readable ``code`` (one status per code,
in every service); the HTTP mapping happens in exactly one place (:mod:`serving_common.http_errors`),
so deep code raises typed exceptions and never builds responses. Every component raises these;
KServe's own exceptions are translated into them there too.
"""

from __future__ import annotations

from typing import Any


class PlatformError(Exception):
    """Base of every error this platform raises on purpose."""

    status_code: int = 500
    code: str = "internal_error"
    # Set on errors a client should retry later (503s of an overloaded or unavailable service).
    retry_after_seconds: int | None = None

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_seconds)} if self.retry_after_seconds is not None else None


class ClientError(PlatformError):
    """The caller sent something we cannot serve; retrying the same request will not help."""

    status_code = 400
    code = "bad_request"


class ServerError(PlatformError):
    """Something on our side failed; the request itself may be fine."""

    status_code = 500
    code = "internal_error"


class InvalidInput(ClientError):
    status_code = 422
    code = "invalid_input"


class PayloadTooLarge(ClientError):
    """A body, batch or text over its limit (the HTTP servers' body limit, the gateway's batch limits)."""

    status_code = 413
    code = "payload_too_large"


class UnsupportedContentEncoding(ClientError):
    """A compressed (or otherwise encoded) request body: every server reads bodies as sent, so it says so (RFC
    9110: 415 with ``Accept-Encoding`` naming the codings it takes) instead of misreading the bytes."""

    status_code = 415
    code = "unsupported_content_encoding"

    def __init__(self, coding: str) -> None:
        super().__init__(
            f"Content-Encoding {coding} is not accepted: send the body uncompressed",
            details={"content_encoding": coding, "accepted": ["identity"]},
        )

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Accept-Encoding": "identity"}


class RequestTimeout(ClientError):
    """The request body did not arrive within the server's body deadline."""

    status_code = 408
    code = "request_timeout"


class HeadersTooLarge(ClientError):
    status_code = 431
    code = "headers_too_large"


class NotFound(ClientError):
    status_code = 404
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class UnknownTask(NotFound):
    """A task name no registered :class:`serving_common.tasks.ModelTask` answers to."""

    code = "unknown_task"


class MethodNotAllowed(ClientError):
    """The path exists, not for this method; the answer names the methods it takes (``Allow``, which a 405 must
    carry, and ``details.allowed``)."""

    status_code = 405
    code = "method_not_allowed"

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(f"method not allowed here; allowed: {', '.join(allowed)}", details={"allowed": allowed})
        self.allowed = allowed

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Allow": ", ".join(self.allowed)}


class Unavailable(ServerError):
    """Not ready, or overloaded: answered at once with Retry-After."""

    status_code = 503
    code = "unavailable"
    retry_after_seconds = 1


class ModelNotReady(Unavailable):
    code = "model_not_ready"


class ServerNotReady(Unavailable):
    code = "server_not_ready"


class ServerNotLive(Unavailable):
    code = "server_not_live"


class InferenceFailed(ServerError):
    """The model or its post-processing failed on a request that was itself valid."""

    code = "inference_error"


class NotImplementedByServer(ServerError):
    status_code = 501
    code = "not_implemented"


class UnsupportedProtocol(NotImplementedByServer):
    code = "unsupported_protocol"


class ModelDirectoryError(ServerError):
    """A model directory is missing a file or holds a corrupt one. The message names the file."""

    code = "model_directory_invalid"

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}", details={"path": path})
        self.path = path
        self.problem = problem


def error_payload(
    code: str, message: str, details: dict[str, Any] | None = None, request_id: str | None = None
) -> dict[str, Any]:
    """The one JSON error shape of the platform."""
    return {"error": {"code": code, "message": message, "details": details or {}}, "request_id": request_id}


def describe_validation_error(exc: Any) -> str:
    """A pydantic ``ValidationError`` as one line: ``field: problem; field: problem``."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors())
