from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api_gateway.api.deps import ClientsDep, SettingsDep
from api_gateway.api.schemas import HealthOut, ReadyOut
from api_gateway.readiness import check_environments

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
async def ready(settings: SettingsDep, clients: ClientsDep) -> JSONResponse:
    environments = await check_environments(clients)
    body = ReadyOut(
        ready=environments[settings.default_environment.value].ready,
        default_environment=settings.default_environment.value,
        environments=environments,
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)
