from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends

from api_gateway.api.deps import ClientsDep, require_api_key
from api_gateway.api.schemas import ERROR_RESPONSES, ModelsOut, ServedModel

router = APIRouter(prefix="/api/v1", tags=["models"], dependencies=[Depends(require_api_key)])


@router.get(
    "/models",
    response_model=ModelsOut,
    summary="What each environment serves, with versions",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 429)},
)
async def list_models(clients: ClientsDep) -> ModelsOut:
    infos = await asyncio.gather(*(c.info() for c in clients.values()))
    readiness = await asyncio.gather(*(c.ready() for c in clients.values()))
    environments: dict[str, list[ServedModel]] = {}
    for ((env, _), client), info, is_ready in zip(clients.items(), infos, readiness, strict=True):
        environments.setdefault(env.value, []).append(
            ServedModel(
                name=client.model_name,
                version=info.version if info else None,
                task=info.task if info else None,
                decision_threshold=info.decision_threshold if info else None,
                ready=is_ready,
                url=client.base_url,
            )
        )
    return ModelsOut(environments=environments)
