"""True labels back from users: ``POST /api/v1/feedback``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api_gateway.api.deps import ClientsDep, FeedbackAccessDep
from api_gateway.api.emails import labelled_text, read_raw
from api_gateway.api.json_body import JsonBodyRoute
from api_gateway.api.schemas import ERROR_RESPONSES, ErrorOut, FeedbackIn, FeedbackOut
from api_gateway.feedback import Feedback
from serving_common.errors import ModelNotReady, UnknownTask
from serving_common.tasks import task_named

router = APIRouter(route_class=JsonBodyRoute, prefix="/api/v1", tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackOut,
    summary="Send the true label of an earlier prediction (by its request_id)",
    responses={**ERROR_RESPONSES, 404: {"model": ErrorOut, "description": "The gateway serves no such task"}},
)
async def send_feedback(
    body: FeedbackIn,
    access: FeedbackAccessDep,
    clients: ClientsDep,
    request: Request,
) -> FeedbackOut:
    environment, key = access.environment, access.key
    task = task_named(body.task)  # 404 naming the registered tasks
    client = clients.get((environment, task.name))
    if client is None:
        raise UnknownTask(f"this gateway serves no task {task.name!r}", details={"task": task.name})
    if client.labels is None and await client.info() is None:
        raise ModelNotReady(f"the {environment} {client.model_name} service cannot say its labels yet; retry")
    feedback: Feedback = request.app.state.feedback
    text = await read_raw([body.raw_email], labelled_text, body)
    result = feedback.give(
        environment,
        request_id=body.request_id,
        position=body.position,
        task=task.name,
        label=body.label,
        text=text,
        labels=task.answer_labels(client.labels or []),
        key=key,
    )
    return FeedbackOut(
        request_id=body.request_id,
        position=body.position,
        label=body.label,
        matched=result.matched,
        predicted=result.predicted,
        model_version=result.model_version,
        counted=result.counted,
        environment=environment.value,
    )
