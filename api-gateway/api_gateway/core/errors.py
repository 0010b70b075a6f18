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


class PayloadTooLarge(ClientError):
    status_code = 413
    code = "payload_too_large"
