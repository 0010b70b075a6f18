"""Spam prediction endpoints."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.background import BackgroundTask

from api_gateway import metrics
from api_gateway.api.deps import Serving, ServingDep
from api_gateway.api.schemas import (
    ERROR_RESPONSES,
    BatchPredictIn,
    BatchPredictOut,
    EmailIn,
    PredictOut,
    ServedBy,
    SpamVerdict,
)
from api_gateway.core.environments import Environment, ModelKind
from api_gateway.inference import infer, json_response
from serving_common.schemas import SpamResponse, TransformerInstance
from serving_common.tasks import SPAM

router = APIRouter(prefix="/api/v1", tags=["spam"])


def _verdicts(emails: list[EmailIn], result: SpamResponse, environment: Environment) -> list[SpamVerdict]:
    verdicts = []
    for email, out in zip(emails, result.predictions, strict=True):
        metrics.PREDICTIONS.labels(environment, result.model_name, SPAM.answer_label(out)).inc()
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
    emails: list[EmailIn], ctx: Serving, endpoint: str
) -> tuple[list[SpamVerdict], ServedBy, BackgroundTask | None]:
    instances = [TransformerInstance(text=e.email_content, subject=e.subject) for e in emails]
    result, served, after = await infer(
        instances, ctx=ctx, model=ModelKind.SPAM, endpoint=endpoint, response_model=SPAM.response_model
    )
    return _verdicts(emails, result, ctx.environment), served, after


@router.post("/predict", response_model=PredictOut, summary="Classify one email", responses=ERROR_RESPONSES)
async def predict(body: EmailIn, ctx: ServingDep) -> Response:
    verdicts, served, after = await _classify([body], ctx, "predict")
    return json_response(PredictOut.model_construct(**dict(verdicts[0]), **dict(served)), after)


@router.post(
    "/batch-predict",
    response_model=BatchPredictOut,
    summary="Classify many emails in one call (sent upstream as one batch; fails as a whole)",
    responses=ERROR_RESPONSES,
)
async def batch_predict(body: BatchPredictIn, ctx: ServingDep) -> Response:
    verdicts, served, after = await _classify(body.as_emails(), ctx, "batch_predict")
    out = BatchPredictOut.model_construct(predictions=verdicts, count=len(verdicts), **dict(served))
    return json_response(out, after)
