"""One upstream inference call as every prediction route makes it: size limits, the call itself
(through the environment's coalescer, which may share it with concurrent requests), and the request
metrics. Single and batch requests alike have all their rows in exactly one call."""

from __future__ import annotations

import time

from fastapi.responses import Response
from pydantic import BaseModel
from starlette.background import BackgroundTask

from api_gateway import metrics
from api_gateway.api.deps import Serving
from api_gateway.api.schemas import ServedBy
from api_gateway.core.config import GatewaySettings
from api_gateway.core.environments import Environment, ModelKind
from api_gateway.upstream import ResponseT
from serving_common.errors import PayloadTooLarge, PlatformError
from serving_common.request_context import request_id_var
from serving_common.schemas import TransformerInstance


def json_response(model: BaseModel, after: BackgroundTask | None = None) -> Response:
    """The route's answer, serialised once. Routes still declare their response model (OpenAPI, docs);
    answering a Response skips FastAPI validating again what was built from validated parts. ``after``
    runs once the answer has been sent."""
    return Response(model.model_dump_json(), media_type="application/json", background=after)


def check_sizes(texts: list[str], settings: GatewaySettings) -> None:
    if len(texts) > settings.max_batch_size:
        raise PayloadTooLarge(
            f"batch of {len(texts)} texts exceeds the limit of {settings.max_batch_size}",
            details={"max_batch_size": settings.max_batch_size},
        )
    for i, text in enumerate(texts):
        if len(text) > settings.max_text_chars:
            raise PayloadTooLarge(
                f"text {i} has {len(text)} characters; the limit is {settings.max_text_chars}",
                details={"max_text_chars": settings.max_text_chars, "index": i},
            )


async def infer(
    instances: list[TransformerInstance],
    *,
    ctx: Serving,
    model: ModelKind,
    endpoint: str,
    response_model: type[ResponseT],
) -> tuple[ResponseT, ServedBy, BackgroundTask | None]:
    """The upstream answer, who served it (with the milliseconds spent in the gateway), and what to run
    once the answer has been sent: mirroring a production request to staging (shadow traffic)."""
    started = time.perf_counter()
    environment = ctx.environment
    coalescer = ctx.upstreams.coalescer(environment, model)
    client = coalescer.client
    status, version = "ok", ""
    request_id = request_id_var.get() or ""
    metrics.IN_FLIGHT.labels(environment).inc()
    try:
        check_sizes([i.text for i in instances], ctx.settings)
        result = await coalescer.predict(instances, request_id, response_model)
        version = result.model_version
    except PlatformError as exc:
        status = exc.code
        raise
    finally:
        metrics.IN_FLIGHT.labels(environment).dec()
        elapsed = time.perf_counter() - started
        metrics.REQUESTS.labels(environment, client.model_name, version, endpoint, status).inc()
        metrics.REQUEST_DURATION.labels(environment, client.model_name, version, endpoint).observe(elapsed)
    served = ServedBy(
        environment=environment.value,
        model_name=result.model_name,
        model_version=result.model_version,
        request_id=request_id,
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
    )
    after = None
    if environment is Environment.PRODUCTION and ctx.shadow.mirrors(model):
        after = BackgroundTask(ctx.shadow.offer, model, instances, result, request_id)
    return result, served, after
