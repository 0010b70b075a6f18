from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api_gateway import metrics
from api_gateway.api.deps import SettingsDep, UpstreamsDep
from api_gateway.api.schemas import EnvironmentReadiness, HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, summary="Liveness: the gateway process is up")
async def health() -> HealthOut:
    return HealthOut()


@router.get(
    "/ready",
    response_model=ReadyOut,
    summary="Readiness of each environment's InferenceService",
    responses={503: {"model": ReadyOut, "description": "The default environment cannot serve."}},
)
async def ready(settings: SettingsDep, upstreams: UpstreamsDep) -> JSONResponse:
    clients = upstreams.all()
    states = await asyncio.gather(*(client.ready() for client in clients.values()))
    environments = {}
    for (env, client), is_ready in zip(clients.items(), states, strict=True):
        metrics.ENVIRONMENT_READY.labels(env).set(1 if is_ready else 0)
        environments[env.value] = EnvironmentReadiness(ready=is_ready, url=client.base_url)
    body = ReadyOut(
        ready=environments[settings.default_environment.value].ready,
        default_environment=settings.default_environment.value,
        environments=environments,
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)
