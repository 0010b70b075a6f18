"""Spam prediction endpoints."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api_gateway import metrics
from api_gateway.api.deps import ServingDep
from api_gateway.api.schemas import (
    ERROR_RESPONSES,
    BatchPredictIn,
    BatchPredictOut,
    EmailIn,
    PredictOut,
    ServedBy,
    SpamVerdict,
)
from api_gateway.core.config import GatewaySettings
from api_gateway.core.environments import Environment, ModelKind
from api_gateway.inference import infer, json_response
from api_gateway.upstream import Upstreams
from serving_common.schemas import SpamResponse, TransformerInstance

router = APIRouter(prefix="/api/v1", tags=["spam"])


def _verdicts(emails: list[EmailIn], result: SpamResponse, environment: Environment) -> list[SpamVerdict]:
    verdicts = []
    for email, out in zip(emails, result.predictions, strict=True):
        metrics.PREDICTIONS.labels(environment, result.model_name, out.label).inc()
        verdicts.append(
            SpamVerdict(
                prediction="spam" if out.label == "spam" else "ham",
                spam_probability=out.spam_probability,
                confidence=out.confidence,
                truncated=out.truncated,
                email_id=email.email_id,
            )
        )
    return verdicts


async def _classify(
    emails: list[EmailIn], environment: Environment, upstreams: Upstreams, settings: GatewaySettings, endpoint: str
) -> tuple[list[SpamVerdict], ServedBy]:
    instances = [TransformerInstance(text=e.email_content, subject=e.subject) for e in emails]
    result, served = await infer(
        instances,
        environment=environment,
        model=ModelKind.SPAM,
        endpoint=endpoint,
        upstreams=upstreams,
        settings=settings,
        response_model=SpamResponse,
    )
    return _verdicts(emails, result, environment), served


@router.post("/predict", response_model=PredictOut, summary="Classify one email", responses=ERROR_RESPONSES)
async def predict(body: EmailIn, ctx: ServingDep) -> Response:
    verdicts, served = await _classify([body], ctx.environment, ctx.upstreams, ctx.settings, "predict")
    return json_response(PredictOut.model_construct(**dict(verdicts[0]), **dict(served)))


@router.post(
    "/batch-predict",
    response_model=BatchPredictOut,
    summary="Classify many emails in one call (sent upstream as one batch; fails as a whole)",
    responses=ERROR_RESPONSES,
)
async def batch_predict(body: BatchPredictIn, ctx: ServingDep) -> Response:
    emails = body.as_emails()
    verdicts, served = await _classify(emails, ctx.environment, ctx.upstreams, ctx.settings, "batch_predict")
    return json_response(BatchPredictOut.model_construct(predictions=verdicts, count=len(verdicts), **dict(served)))
