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


# What a text may cost before the gateway has read the model's own max length from its metadata.
DEFAULT_MAX_LENGTH = 512


def token_bound(instance: TransformerInstance, max_length: int) -> int:
    """The most tokens a text can cost the model: a token covers at least one character, [CLS] and [SEP]
    are two more, and the model truncates at its max length."""
    chars = len(instance.text) + (len(instance.subject) + 1 if instance.subject else 0)
    return min(chars + 2, max_length)


def check_sizes(instances: list[TransformerInstance], settings: GatewaySettings, max_length: int | None) -> None:
    if len(instances) > settings.max_batch_size:
        raise PayloadTooLarge(
            f"batch of {len(instances)} texts exceeds the limit of {settings.max_batch_size}",
            details={"max_batch_size": settings.max_batch_size},
        )
    for i, instance in enumerate(instances):
        if len(instance.text) > settings.max_text_chars:
            raise PayloadTooLarge(
                f"text {i} has {len(instance.text)} characters; the limit is {settings.max_text_chars}",
                details={"max_text_chars": settings.max_text_chars, "index": i},
            )
    length = max_length or DEFAULT_MAX_LENGTH
    tokens = sum(token_bound(instance, length) for instance in instances)
    if tokens > settings.max_batch_tokens:
        raise PayloadTooLarge(
            f"the {len(instances)} texts may cost up to {tokens} tokens (each counts min(its characters + 2, the "
            f"model's max length {length})); the limit is {settings.max_batch_tokens}: send fewer or shorter texts",
            details={"max_batch_tokens": settings.max_batch_tokens, "batch_tokens": tokens, "max_length": length},
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
        check_sizes(instances, ctx.settings, client.max_length)
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
