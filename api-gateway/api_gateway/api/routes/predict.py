"""Spam prediction endpoints: JSON (a body, or a raw message in ``raw_email``) or a raw ``message/rfc822``."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.routing import Match, Route
from starlette.types import Scope

from api_gateway import metrics
from api_gateway.api.deps import X_ENVIRONMENT_PARAMETER, EnvironmentInference, InferenceDep, environment_inference
from api_gateway.api.emails import EmailText, from_batch, from_json, from_raw, read_raw
from api_gateway.api.json_body import JsonBodyRoute, json_invalid, load_json, refuse_too_many_values
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
from api_gateway.inference import After, ServedBy
from serving_common.http_errors import JSON_MEDIA_TYPE, body_not_json, body_not_utf8, is_json, media_type_of
from serving_common.schemas import SpamResponse
from serving_common.tasks import SPAM

router = APIRouter(route_class=JsonBodyRoute, prefix="/api/v1", tags=["spam"])
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


def _not_json(body: bytes, media_type: str, errors: list[Any]) -> Exception:
    """What a body pydantic could not parse gets: the answers a declared body gets (the decoder the other routes
    use says what is wrong), or, under a type that is not JSON, which types to send."""
    try:
        load_json(body)
    except UnicodeDecodeError:
        return body_not_utf8()
    except json.JSONDecodeError as exc:
        if not is_json(media_type):
            # Most often a raw message sent without its Content-Type (curl --data-binary sends a form's).
            return body_not_json(media_type, (JSON_MEDIA_TYPE, RFC822))
        return RequestValidationError([json_invalid(exc)])
    return RequestValidationError(errors)  # orjson read what pydantic's parser did not: the parser's own words


async def email_body(request: Request) -> EmailText:
    """The email of a /predict request: a raw message (``Content-Type: message/rfc822``) or EmailIn JSON.
    JSON is decoded and validated exactly as a declared body would be (the same 422s)."""
    body = await request.body()
    media_type = media_type_of(request.headers.get("content-type"))
    if media_type == RFC822:
        return await read_raw([body], from_raw, body)
    refuse_too_many_values(body, request.app.state.settings.max_json_values)
    try:
        email = EmailIn.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        if any(e["type"] == "json_invalid" for e in errors):
            raise _not_json(body, media_type, errors) from None
        raise RequestValidationError(errors) from None
    if email.raw_email is None:  # the busiest case: nothing to read, no coroutine to make
        return from_json(email)
    return await read_raw([email.raw_email], from_json, email)


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
    emails: list[EmailText], inference: EnvironmentInference, endpoint: str
) -> tuple[list[SpamVerdict], ServedBy, After]:
    """The verdicts, who served them, and what runs once the answer has been sent (shadow traffic)."""
    prediction = await inference.predict(
        SPAM.name, [e.instance() for e in emails], endpoint=endpoint, response_model=SPAM.response_model
    )
    return _verdicts(emails, prediction.result, inference.environment), prediction.served, prediction.after


@router.post(
    "/predict",
    response_model=PredictOut,
    summary="Classify one email (JSON, or the raw message as message/rfc822)",
    responses=ERROR_RESPONSES,
    openapi_extra={**PREDICT_BODY, "parameters": [X_ENVIRONMENT_PARAMETER]},
)
async def predict(request: Request) -> Response:
    # The busiest route takes only the request, so FastAPI has no dependency to resolve for it (its
    # dependency machinery was a fifth of the gateway's CPU, docs/benchmarks.md): the environment and key,
    # then the body, are read here in the order the other routes' dependencies read them. OpenAPI is told of
    # the header and the body by openapi_extra, as a declared route would show them.
    inference = await environment_inference(request, request.headers.get("x-environment"))
    email = await email_body(request)
    verdicts, served, after = await _classify([email], inference, "predict")
    return json_response(PredictOut.model_construct(**dict(verdicts[0]), **dict(served)), after)


# The same handler as a plain Starlette route: what serves POST /api/v1/predict. It needs nothing FastAPI adds
# per request (dependency solving, parameter and cookie parsing, response wrapping: a fifth of the gateway's
# CPU, docs/benchmarks.md); errors go through the app's one set of handlers either way. The FastAPI route above
# documents it in OpenAPI and is never reached for POST.
class _PlainRoute(Route):
    """A Starlette route that names itself in the scope once matched (``scope["route"]``), as FastAPI's routes do,
    so what reads the matched route (the gateway's answer counts by route) finds it."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


LEAN_PREDICT_ROUTE = _PlainRoute(f"{router.prefix}/predict", predict, methods=["POST"], include_in_schema=False)


@router.post(
    "/batch-predict",
    response_model=BatchPredictOut,
    summary="Classify many emails in one call (sent upstream as one batch; fails as a whole)",
    responses=ERROR_RESPONSES,
)
async def batch_predict(body: BatchPredictIn, inference: InferenceDep) -> Response:
    emails = body.emails
    texts = await read_raw([e.raw_email for e in emails], from_batch, emails)
    verdicts, served, after = await _classify(texts, inference, "batch_predict")
    out = BatchPredictOut.model_construct(predictions=verdicts, count=len(verdicts), **dict(served))
    return json_response(out, after)
