"""Every task the gateway serves, by name: a task registered as a plug-in (``TEXTSERVE_TASK_PLUGINS``) and
given an upstream (``GATEWAY_UPSTREAMS``) is served here with no route of its own. Spam and intent are
served here too; their own routes (/api/v1/predict, /api/v1/intent) answer in their own documented shapes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import Response

from api_gateway import metrics
from api_gateway.api.deps import EnvironmentInference, InferenceDep
from api_gateway.api.json_body import JsonBodyRoute
from api_gateway.api.responses import json_response
from api_gateway.api.schemas import ERROR_RESPONSES, ErrorOut, TaskBatchOut, TaskOut, TextBatchIn, TextIn
from api_gateway.inference import After, ServedBy
from serving_common.schemas import TransformerInstance
from serving_common.tasks import task_named

router = APIRouter(route_class=JsonBodyRoute, prefix="/api/v1/tasks", tags=["tasks"])
TaskName = Annotated[str, PathParam(description="A task this gateway serves, e.g. spam or intent.")]
RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: {"model": ErrorOut, "description": "The gateway serves no such task (unknown_task)"},
}
# Features are the transformer's (logged, and used by drift detection); the caller is not sent them.
INTERNAL = {"features"}


async def _classify(
    task_name: str, texts: list[str], inference: EnvironmentInference, endpoint: str
) -> tuple[list[dict[str, Any]], ServedBy, After]:
    task = task_named(task_name)  # 404 with the registered tasks when it is none
    prediction = await inference.predict(
        task.name, [TransformerInstance(text=t) for t in texts], endpoint=endpoint, response_model=task.response_model
    )
    result = prediction.result
    for out in result.predictions:
        metrics.PREDICTIONS.labels(inference.environment, result.model_name, task.answer_label(out)).inc()
    return [out.model_dump(exclude=INTERNAL) for out in result.predictions], prediction.served, prediction.after


@router.post("/{task}/predict", response_model=TaskOut, summary="One text, by any task", responses=RESPONSES)
async def predict_task(task: TaskName, body: TextIn, inference: InferenceDep) -> Response:
    outputs, served, after = await _classify(task, [body.text], inference, "task_predict")
    return json_response(TaskOut.model_construct(task=task, prediction=outputs[0], **dict(served)), after)


@router.post(
    "/{task}/batch-predict", response_model=TaskBatchOut, summary="Many texts, by any task", responses=RESPONSES
)
async def batch_predict_task(task: TaskName, body: TextBatchIn, inference: InferenceDep) -> Response:
    outputs, served, after = await _classify(task, body.texts, inference, "task_batch_predict")
    out = TaskBatchOut.model_construct(task=task, predictions=outputs, count=len(outputs), **dict(served))
    return json_response(out, after)
