"""Spam prediction endpoints: JSON (a body, or a raw message in ``raw_email``) or a raw ``message/rfc822``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from api_gateway import metrics
from api_gateway.api.deps import EnvironmentInference, InferenceDep
from api_gateway.api.emails import EmailText, from_batch, from_json, from_raw
from api_gateway.api.responses import json_response
from api_gateway.api.schemas import (
    ERROR_RESPONSES,
    RAW_EMAIL_EXAMPLE,
    BatchPredictIn,
    BatchPredictOut,
    EmailIn,
    PredictOut,
    SpamVerdict,
)
from api_gateway.core.environments import Environment
from api_gateway.inference import ServedBy
from serving_common.errors import InvalidInput
from serving_common.schemas import SpamResponse
from serving_common.tasks import SPAM

router = APIRouter(prefix="/api/v1", tags=["spam"])
RFC822 = "message/rfc822"

# /predict reads its body itself (JSON or a raw message), so OpenAPI is told of both media types here.
PREDICT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/EmailIn"}},
            RFC822: {
                "schema": {"type": "string", "format": "binary"},
                "example": RAW_EMAIL_EXAMPLE,
            },
        },
    }
}


async def email_body(request: Request) -> EmailText:
    """The email of a /predict request: a raw message (``Content-Type: message/rfc822``) or EmailIn JSON.
    JSON is validated exactly as a declared body would be (the same 422)."""
    body = await request.body()
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == RFC822:
        return from_raw(body)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the request body is not valid UTF-8 JSON") from None  # FastAPI's declared bodies' answer
    try:
        email = EmailIn.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    return from_json(email)


def _verdicts(emails: list[EmailText], result: SpamResponse, environment: Environment) -> list[SpamVerdict]:
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
    emails: list[EmailText], inference: EnvironmentInference, endpoint: str, background: BackgroundTasks
) -> tuple[list[SpamVerdict], ServedBy]:
    prediction = await inference.predict(
        SPAM.name, [e.instance() for e in emails], endpoint=endpoint, response_model=SPAM.response_model
    )
    if prediction.after is not None:
        background.add_task(prediction.after)
    return _verdicts(emails, prediction.result, inference.environment), prediction.served


@router.post(
    "/predict",
    response_model=PredictOut,
    summary="Classify one email (JSON, or the raw message as message/rfc822)",
    responses=ERROR_RESPONSES,
    openapi_extra=PREDICT_BODY,
)
async def predict(
    inference: InferenceDep, email: Annotated[EmailText, Depends(email_body)], background: BackgroundTasks
) -> Response:
    verdicts, served = await _classify([email], inference, "predict", background)
    return json_response(PredictOut.model_construct(**dict(verdicts[0]), **dict(served)))


@router.post(
    "/batch-predict",
    response_model=BatchPredictOut,
    summary="Classify many emails in one call (sent upstream as one batch; fails as a whole)",
    responses=ERROR_RESPONSES,
)
async def batch_predict(body: BatchPredictIn, inference: InferenceDep, background: BackgroundTasks) -> Response:
    emails = body.as_emails()
    if any(e.raw_email is not None for e in emails):
        # Raw messages of a large batch take seconds to parse (the 256 longest SpamAssassin messages, 9 MB:
        # 3.8 s): on a worker thread, the event loop keeps answering everyone else meanwhile.
        texts = await run_in_threadpool(from_batch, emails)
    else:
        texts = from_batch(emails)
    verdicts, served = await _classify(texts, inference, "batch_predict", background)
    out = BatchPredictOut.model_construct(predictions=verdicts, count=len(verdicts), **dict(served))
    return json_response(out)
