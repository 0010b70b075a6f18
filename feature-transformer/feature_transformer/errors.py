"""The transformer's own errors: what went wrong with the predictor, as the gateway should see it."""

from __future__ import annotations

from serving_common.errors import ServerError


class PredictorUnavailable(ServerError):
    """The predictor is unreachable, not ready or overloaded: retry later."""

    status_code = 503
    code = "predictor_unavailable"
    retry_after_seconds = 1


class PredictorFailed(ServerError):
    status_code = 502
    code = "predictor_failed"
