"""Intent classification endpoints (intent + complexity from one forward pass)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api_gateway import metrics
from api_gateway.api.deps import ServingDep
from api_gateway.api.schemas import (
    ERROR_RESPONSES,
    Complexity,
    IntentBatchIn,
    IntentBatchOut,
    IntentIn,
    IntentOut,
    IntentVerdictOut,
    ServedBy,
)
from api_gateway.core.config import GatewaySettings
from api_gateway.core.environments import Environment, ModelKind
from api_gateway.inference import infer, json_response
from api_gateway.upstream import Upstreams
from serving_common.schemas import IntentResponse, TransformerInstance

router = APIRouter(prefix="/api/v1/intent", tags=["intent"])


async def _classify(
    texts: list[str], environment: Environment, upstreams: Upstreams, settings: GatewaySettings, endpoint: str
) -> tuple[list[IntentVerdictOut], ServedBy]:
    result, served = await infer(
        [TransformerInstance(text=t) for t in texts],
        environment=environment,
        model=ModelKind.INTENT,
        endpoint=endpoint,
        upstreams=upstreams,
        settings=settings,
        response_model=IntentResponse,
    )
    verdicts = []
    for out in result.predictions:
        metrics.PREDICTIONS.labels(environment, result.model_name, out.intent).inc()
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
    return verdicts, served


@router.post(
    "/predict", response_model=IntentOut, summary="Intent and complexity of one prompt", responses=ERROR_RESPONSES
)
async def predict_intent(body: IntentIn, ctx: ServingDep) -> Response:
    verdicts, served = await _classify([body.text], ctx.environment, ctx.upstreams, ctx.settings, "intent_predict")
    return json_response(IntentOut.model_construct(**dict(verdicts[0]), **dict(served)))


@router.post(
    "/batch-predict",
    response_model=IntentBatchOut,
    summary="Intent and complexity of many prompts",
    responses=ERROR_RESPONSES,
)
async def batch_predict_intent(body: IntentBatchIn, ctx: ServingDep) -> Response:
    verdicts, served = await _classify(body.texts, ctx.environment, ctx.upstreams, ctx.settings, "intent_batch_predict")
    return json_response(IntentBatchOut.model_construct(predictions=verdicts, count=len(verdicts), **dict(served)))
