"""Intent classification endpoints (intent + complexity from one forward pass)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api_gateway import metrics
from api_gateway.api.deps import EnvironmentInference, InferenceDep
from api_gateway.api.json_body import JsonBodyRoute
from api_gateway.api.responses import json_response
from api_gateway.api.schemas import (
    ERROR_RESPONSES,
    Complexity,
    IntentBatchIn,
    IntentBatchOut,
    IntentIn,
    IntentOut,
    IntentVerdictOut,
)
from api_gateway.inference import After, ServedBy
from serving_common.schemas import TransformerInstance
from serving_common.tasks import INTENT

router = APIRouter(route_class=JsonBodyRoute, prefix="/api/v1/intent", tags=["intent"])


async def _classify(
    texts: list[str], inference: EnvironmentInference, endpoint: str
) -> tuple[list[IntentVerdictOut], ServedBy, After]:
    prediction = await inference.predict(
        INTENT.name,
        [TransformerInstance(text=t) for t in texts],
        endpoint=endpoint,
        response_model=INTENT.response_model,
    )
    result, environment = prediction.result, inference.environment
    verdicts = []
    for out in result.predictions:
        metrics.PREDICTIONS.labels(environment, result.model_name, INTENT.answer_label(out)).inc()
        verdicts.append(
            IntentVerdictOut(
                intent=out.intent,
                confidence=out.confidence,
                all_intents=out.all_intents,
                top_intents=out.top_intents,
                complexity=Complexity(score=out.complexity_score, level=out.complexity_level),
                truncated=out.truncated,
            )
        )
    return verdicts, prediction.served, prediction.after


@router.post(
    "/predict", response_model=IntentOut, summary="Intent and complexity of one prompt", responses=ERROR_RESPONSES
)
async def predict_intent(body: IntentIn, inference: InferenceDep) -> Response:
    verdicts, served, after = await _classify([body.text], inference, "intent_predict")
    return json_response(IntentOut.model_construct(**dict(verdicts[0]), **dict(served)), after)


@router.post(
    "/batch-predict",
    response_model=IntentBatchOut,
    summary="Intent and complexity of many prompts",
    responses=ERROR_RESPONSES,
)
async def batch_predict_intent(body: IntentBatchIn, inference: InferenceDep) -> Response:
    verdicts, served, after = await _classify(body.texts, inference, "intent_batch_predict")
    out = IntentBatchOut.model_construct(predictions=verdicts, count=len(verdicts), **dict(served))
    return json_response(out, after)
