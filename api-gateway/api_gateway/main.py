"""Builds the gateway application from its settings."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response

from api_gateway import metrics
from api_gateway.api.routes import feedback, health, intent, models, predict, tasks
from api_gateway.api_docs import install_api_docs
from api_gateway.auth import Authenticator
from api_gateway.coalescing import Coalescer
from api_gateway.core.config import GatewaySettings
from api_gateway.core.environments import Environment
from api_gateway.feedback import Feedback, VerdictMemory
from api_gateway.inference import Inference, SizeLimits
from api_gateway.middleware import InFlightLimitMiddleware, RequestIdMiddleware
from api_gateway.readiness import watch_readiness
from api_gateway.shadow import Shadow, ShadowDeadline
from api_gateway.upstream import ClientOptions
from api_gateway.upstream import InferenceServiceClient as Client
from serving_common.http_errors import install_error_handlers
from serving_common.http_limits import BodyLimitMiddleware
from serving_common.inference_log.writer import InferenceLogWriter, WriterHooks
from serving_common.metrics_exposition import exposition_of, forget_this_process

log = logging.getLogger("api_gateway")

DESCRIPTION = """
Spam classification served by KServe InferenceServices.

Send `X-Environment: staging` (the default) or `X-Environment: production` to choose the environment;
a request is never served by the other one. Send `X-Request-ID` to trace a request through the
transformer and predictor; one is generated when absent and always returned.

Errors share one shape: `{"error": {"code", "message", "details"}, "request_id"}`.
"""


def _clients(settings: GatewaySettings, options: ClientOptions) -> dict[tuple[Environment, str], Client]:
    return {
        (env, task): Client(env, upstream.urls[env], upstream.model_name, options)
        for env in Environment
        for task, upstream in settings.task_upstreams().items()
    }


def _shadow(settings: GatewaySettings, options: ClientOptions) -> Shadow:
    """Staging's clients of their own for mirrored traffic: their own pool and breaker and no retries, so
    staging's real callers are not affected; a deadline that grows with the mirrored request's tokens."""
    upstreams = settings.task_upstreams()
    shares = {task: settings.shadow_shares.get(upstream.model_name, 0.0) for task, upstream in upstreams.items()}
    own = dataclasses.replace(options, timeout_seconds=settings.shadow_timeout_seconds, retries=0)
    staging = Environment.STAGING
    clients = {
        task: Client(staging, upstreams[task].urls[staging], upstreams[task].model_name, own)
        for task, share in shares.items()
        if share > 0
    }
    deadline = ShadowDeadline(
        base_seconds=settings.shadow_timeout_seconds,
        full_seconds=settings.shadow_timeout_factor * settings.upstream_timeout_seconds,
        full_tokens=settings.max_batch_tokens,
    )
    return Shadow(
        shares,
        clients,
        queue_size=settings.shadow_queue_size,
        concurrency=settings.shadow_concurrency,
        deadline=deadline,
    )


def _feedback(settings: GatewaySettings, memory: VerdictMemory) -> Feedback:
    """True labels: one feedback-log writer per environment, beside the inference log."""
    hooks = WriterHooks(
        dropped=lambda reason, rows: metrics.FEEDBACK_LOG_DROPPED.labels(reason).inc(rows),
        failed=metrics.FEEDBACK_LOG_WRITE_FAILURES.inc,
    )
    writers = {
        env: InferenceLogWriter(
            settings.feedback_log_url,
            environment=env.value,
            max_buffered_rows=settings.feedback_log_max_buffered_rows,
            hooks=hooks,
        )
        for env in Environment
    }
    model_names = {task: upstream.model_name for task, upstream in settings.task_upstreams().items()}
    for env in Environment:  # exported from the start, so the dashboards' queries resolve
        for name in model_names.values():
            metrics.FEEDBACK_UNMATCHED.labels(env, name)
    return Feedback(memory, writers, model_names, settings.max_text_chars)


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The wiring: clients (one pool each), a coalescer in front of each, shadow traffic, the use case.
        options = ClientOptions.from_settings(settings)
        clients = _clients(settings, options)
        coalescers = {
            key: Coalescer(
                client,
                enabled=settings.coalescing,
                max_rows=settings.coalesce_max_rows,
                max_wait_ms=settings.coalesce_max_wait_ms,
                max_calls=settings.coalesce_max_calls,
                timeout_seconds=settings.upstream_timeout_seconds,
            )
            for key, client in clients.items()
        }
        shadow = _shadow(settings, options)
        memory = VerdictMemory(settings.feedback_memory_entries, settings.feedback_memory_seconds)
        app.state.clients = clients
        app.state.inference = Inference(coalescers, shadow, SizeLimits.from_settings(settings), memory)
        app.state.feedback = _feedback(settings, memory)
        if app.state.authenticator is None:
            log.warning(
                "API KEYS ARE OFF: anyone who can reach this gateway can use every environment "
                "(set GATEWAY_AUTH_ENABLED=true and GATEWAY_API_KEYS_FILE)"
            )
        for (env, _), client in clients.items():
            log.info("environment %s -> %s (model %s)", env, client.base_url, client.model_name)
        watcher = asyncio.create_task(watch_readiness(clients, settings.readiness_refresh_seconds))
        try:
            yield
        finally:
            watcher.cancel()
            await shadow.aclose()
            await app.state.inference.aclose()
            app.state.feedback.close()  # writes the labels it holds
            for client in clients.values():
                await client.aclose()
            forget_this_process()

    app = FastAPI(
        title="textserve API gateway",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served with local assets by install_api_docs
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.authenticator = (
        Authenticator.from_file(settings.api_keys_file) if settings.auth_enabled and settings.api_keys_file else None
    )
    # Starlette runs the last added outermost: request id, then the body (bounded in size and time),
    # then the in-flight bound, which so counts requests that have arrived, never stalled uploads.
    app.add_middleware(InFlightLimitMiddleware, max_in_flight=settings.max_in_flight)
    app.add_middleware(
        BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes, body_timeout_seconds=settings.body_timeout_seconds
    )
    app.add_middleware(RequestIdMiddleware)  # outermost: every answer, refusals included, carries the id
    install_error_handlers(app)
    install_api_docs(app)
    app.include_router(health.router)
    # The busiest route is served by its plain Starlette route, ahead of FastAPI's (which stays for OpenAPI).
    app.router.routes.insert(0, predict.LEAN_PREDICT_ROUTE)
    app.include_router(predict.router)
    app.include_router(intent.router)
    app.include_router(tasks.router)
    app.include_router(feedback.router)
    app.include_router(models.router)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        content, content_type = exposition_of(request.headers.get("accept", ""))
        return Response(content, headers={"content-type": content_type})

    return app
