"""Entrypoint: ``python -m api_gateway`` (settings from ``GATEWAY_*`` environment variables)."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI

from api_gateway.core.config import GatewaySettings
from api_gateway.main import create_app
from serving_common.cpu import share_cores_among
from serving_common.metrics_exposition import workers_metrics_dir
from serving_common.settings import load_settings


def worker_app() -> FastAPI:
    """One worker process's application when ``GATEWAY_WORKERS`` > 1 (each builds its own)."""
    return create_app(load_settings(GatewaySettings))


def main() -> None:
    settings = load_settings(GatewaySettings)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "timeout_graceful_shutdown": 30,
        "access_log": False,
        **settings.uvicorn_options(),
    }
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    share_cores_among(settings.workers)
    with workers_metrics_dir():  # before the workers import prometheus_client
        uvicorn.run("api_gateway.__main__:worker_app", factory=True, workers=settings.workers, **options)


if __name__ == "__main__":
    main()
