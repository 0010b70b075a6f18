"""Spam prediction endpoints. Single and batch share one path: one upstream call per request."""

from __future__ import annotations

import time

from fastapi import APIRouter

from api_gateway import metrics
from api_gateway.api.deps import EnvironmentDep, SettingsDep, UpstreamsDep
from api_gateway.api.schemas import BatchPredictIn, BatchPredictOut, EmailIn, PredictOut, SpamVerdict
from api_gateway.core.config import GatewaySettings
from api_gateway.core.environments import Environment
from api_gateway.core.errors import PayloadTooLarge
from api_gateway.upstream import Upstreams
from serving_common.errors import PlatformError
from serving_common.request_context import request_id_var
from serving_common.schemas import TransformerInstance, TransformerResponse

router = APIRouter(prefix="/api/v1", tags=["spam"])

_ERROR_RESPONSES = {
    400: {"description": "Unknown X-Environment"},
    413: {"description": "Text or batch too large"},
    422: {"description": "Invalid body"},
    502: {"description": "The InferenceService answered with an error"},
    503: {"description": "The environment's InferenceService is unavailable"},
    504: {"description": "The InferenceService did not answer in time"},
}


def _check_sizes(emails: list[EmailIn], settings: GatewaySettings) -> None:
    if len(emails) > settings.max_batch_size:
        raise PayloadTooLarge(
            f"batch of {len(emails)} emails exceeds the limit of {settings.max_batch_size}",
            details={"max_batch_size": settings.max_batch_size},
        )
    for i, email in enumerate(emails):
        if len(email.email_content) > settings.max_text_chars:
            raise PayloadTooLarge(
                f"email {i} has {len(email.email_content)} characters; the limit is {settings.max_text_chars}",
                details={"max_text_chars": settings.max_text_chars, "index": i},
            )


async def _classify(
    emails: list[EmailIn], environment: Environment, upstreams: Upstreams, settings: GatewaySettings, endpoint: str
) -> tuple[list[SpamVerdict], TransformerResponse, float]:
    """Classify emails in one upstream call; returns verdicts, the upstream answer and elapsed ms."""
    started = time.perf_counter()
    client = upstreams.spam(environment)
    status = "ok"
    metrics.IN_FLIGHT.labels(environment).inc()
    try:
        _check_sizes(emails, settings)
        result = await client.predict(
            [TransformerInstance(text=e.email_content, subject=e.subject) for e in emails], request_id_var.get() or ""
        )
    except PlatformError as exc:
        status = exc.code
        raise
    finally:
        metrics.IN_FLIGHT.labels(environment).dec()
        elapsed = time.perf_counter() - started
        metrics.REQUESTS.labels(environment, client.model_name, endpoint, status).inc()
        metrics.REQUEST_DURATION.labels(environment, client.model_name, endpoint).observe(elapsed)
    verdicts = []
    for email, out in zip(emails, result.predictions, strict=True):
        metrics.EMAILS.labels(environment, result.model_name, out.label).inc()
        verdicts.append(
            SpamVerdict(
                prediction="spam" if out.label == "spam" else "ham",
                spam_probability=out.spam_probability,
                confidence=out.confidence,
                truncated=out.truncated,
                email_id=email.email_id,
            )
        )
    return verdicts, result, round((time.perf_counter() - started) * 1000, 3)


@router.post("/predict", response_model=PredictOut, summary="Classify one email", responses=_ERROR_RESPONSES)
async def predict(
    body: EmailIn, environment: EnvironmentDep, upstreams: UpstreamsDep, settings: SettingsDep
) -> PredictOut:
    verdicts, result, latency_ms = await _classify([body], environment, upstreams, settings, "predict")
    return PredictOut(
        **verdicts[0].model_dump(),
        environment=environment.value,
        model_name=result.model_name,
        model_version=result.model_version,
        request_id=request_id_var.get() or "",
        latency_ms=latency_ms,
    )


@router.post(
    "/batch-predict",
    response_model=BatchPredictOut,
    summary="Classify many emails in one call (sent upstream as one batch; fails as a whole)",
    responses=_ERROR_RESPONSES,
)
async def batch_predict(
    body: BatchPredictIn, environment: EnvironmentDep, upstreams: UpstreamsDep, settings: SettingsDep
) -> BatchPredictOut:
    verdicts, result, latency_ms = await _classify(body.as_emails(), environment, upstreams, settings, "batch_predict")
    return BatchPredictOut(
        predictions=verdicts,
        count=len(verdicts),
        environment=environment.value,
        model_name=result.model_name,
        model_version=result.model_version,
        request_id=request_id_var.get() or "",
        latency_ms=latency_ms,
    )
