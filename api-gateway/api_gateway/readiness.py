"""Readiness of every environment, computed in one place for /ready and for the metric."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from pydantic import BaseModel, Field

from api_gateway import metrics
from api_gateway.core.environments import Environment
from api_gateway.upstream import InferenceServiceClient

log = logging.getLogger(__name__)

Clients = Mapping[tuple[Environment, str], InferenceServiceClient]  # by (environment, task)


class ServiceReadiness(BaseModel):
    ready: bool
    url: str


class EnvironmentReadiness(BaseModel):
    ready: bool = Field(description="Every model of the environment is ready.")
    models: dict[str, ServiceReadiness]


async def check_environments(clients: Clients) -> dict[str, EnvironmentReadiness]:
    """Probe every (environment, model) at once; an environment is ready when all its models are."""
    states = await asyncio.gather(*(client.ready() for client in clients.values()))
    # A ready service's max length, once: what the batch token limit counts a text at (inference.check_sizes).
    unread = [client for client, ready in zip(clients.values(), states, strict=True) if ready and not client.max_length]
    await asyncio.gather(*(client.info() for client in unread))
    services: dict[str, dict[str, ServiceReadiness]] = {}
    for ((env, _), client), is_ready in zip(clients.items(), states, strict=True):
        services.setdefault(env.value, {})[client.model_name] = ServiceReadiness(ready=is_ready, url=client.base_url)
    environments: dict[str, EnvironmentReadiness] = {}
    for name, models in services.items():
        ready = all(s.ready for s in models.values())
        metrics.ENVIRONMENT_READY.labels(name).set(1 if ready else 0)
        environments[name] = EnvironmentReadiness(ready=ready, models=models)
    return environments


async def watch_readiness(clients: Clients, every_seconds: float) -> None:
    """Keep ``gateway_environment_ready`` current even when nobody calls /ready (alerts depend on it)."""
    while True:
        try:
            await check_environments(clients)
        except Exception:  # a failed probe round must not end the watcher
            log.exception("readiness probe round failed")
        await asyncio.sleep(every_seconds)
