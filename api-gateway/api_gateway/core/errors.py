"""The gateway's own errors; HTTP mapping lives in serving_common.http_errors."""

from __future__ import annotations

from serving_common.errors import ClientError, ServerError


class UnknownEnvironment(ClientError):
    code = "unknown_environment"


class UpstreamUnavailable(ServerError):
    """The environment's InferenceService could not be reached or said it is not ready."""

    status_code = 503
    code = "upstream_unavailable"
    retry_after_seconds = 1


class UpstreamTimeout(ServerError):
    status_code = 504
    code = "upstream_timeout"


class UpstreamFailed(ServerError):
    """The InferenceService answered, but with an error or an answer we cannot read."""

    status_code = 502
    code = "upstream_failed"


class UpstreamRejected(ClientError):
    """The InferenceService refused the request as a client error (4xx): the caller gets the same status
    and code (a text the transformer cannot take is the caller's mistake, not a gateway failure)."""

    def __init__(self, message: str, *, status_code: int, code: str, details: dict[str, object]) -> None:
        super().__init__(message, details=details)
        self.status_code = status_code
        self.code = code


class Unauthenticated(ClientError):
    status_code = 401
    code = "unauthenticated"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class EnvironmentForbidden(ClientError):
    status_code = 403
    code = "environment_forbidden"


class PermissionDenied(ClientError):
    """The key is valid but may not do this (a predict-only key sending feedback)."""

    status_code = 403
    code = "permission_denied"


class RateLimited(ClientError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, details={"retry_after_seconds": retry_after})
        self.retry_after_seconds = retry_after


class GatewayOverloaded(ServerError):
    """More requests in flight than the gateway accepts: refused at once rather than queued."""

    status_code = 503
    code = "gateway_overloaded"
    retry_after_seconds = 1
