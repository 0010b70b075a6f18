"""The model server's own errors (HTTP mapping: serving_common.kserve_server)."""

from __future__ import annotations

from serving_common.errors import ServerError


class Overloaded(ServerError):
    """The request queue is full: answered at once with 503 and Retry-After instead of queueing forever."""

    status_code = 503
    code = "overloaded"
    retry_after_seconds = 1


class BatcherFailed(ServerError):
    """The batching worker died; the requests it held are failed at once rather than left to hang."""

    status_code = 500
    code = "batcher_failed"
