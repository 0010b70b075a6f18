from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api_gateway import metrics
from api_gateway.api.deps import SettingsDep, UpstreamsDep
from api_gateway.api.schemas import EnvironmentReadiness, HealthOut, ReadyOut, ServiceReadiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, summary="Liveness: the gateway process is up")
async def health() -> HealthOut:
    return HealthOut()


@router.get(
    "/ready",
    response_model=ReadyOut,
    summary="Readiness of each environment's InferenceServices",
    responses={503: {"model": ReadyOut, "description": "The default environment cannot serve."}},
)
async def ready(settings: SettingsDep, upstreams: UpstreamsDep) -> JSONResponse:
    clients = upstreams.all()
    states = await asyncio.gather(*(client.ready() for client in clients.values()))
    models: dict[str, dict[str, ServiceReadiness]] = {}
    for ((env, _), client), is_ready in zip(clients.items(), states, strict=True):
        models.setdefault(env.value, {})[client.model_name] = ServiceReadiness(ready=is_ready, url=client.base_url)
    environments = {}
    for env, services in models.items():
        env_ready = all(s.ready for s in services.values())
        metrics.ENVIRONMENT_READY.labels(env).set(1 if env_ready else 0)
        environments[env] = EnvironmentReadiness(ready=env_ready, models=services)
    body = ReadyOut(
        ready=environments[settings.default_environment.value].ready,
        default_environment=settings.default_environment.value,
        environments=environments,
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)
