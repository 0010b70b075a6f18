"""Intent classification endpoints (intent + complexity from one forward pass)."""

from __future__ import annotations

from fastapi import APIRouter

from api_gateway import metrics
from api_gateway.api.deps import EnvironmentDep, SettingsDep, UpstreamsDep
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
from api_gateway.inference import infer
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
async def predict_intent(
    body: IntentIn, environment: EnvironmentDep, upstreams: UpstreamsDep, settings: SettingsDep
) -> IntentOut:
    verdicts, served = await _classify([body.text], environment, upstreams, settings, "intent_predict")
    return IntentOut(**verdicts[0].model_dump(), **served.model_dump())


@router.post(
    "/batch-predict",
    response_model=IntentBatchOut,
    summary="Intent and complexity of many prompts",
    responses=ERROR_RESPONSES,
)
async def batch_predict_intent(
    body: IntentBatchIn, environment: EnvironmentDep, upstreams: UpstreamsDep, settings: SettingsDep
) -> IntentBatchOut:
    verdicts, served = await _classify(body.texts, environment, upstreams, settings, "intent_batch_predict")
    return IntentBatchOut(predictions=verdicts, count=len(verdicts), **served.model_dump())
