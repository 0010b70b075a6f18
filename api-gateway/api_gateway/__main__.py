"""Entrypoint: ``python -m api_gateway`` (settings from ``GATEWAY_*`` environment variables)."""

from __future__ import annotations

import uvicorn

from api_gateway.core.config import GatewaySettings
from api_gateway.main import create_app
from serving_common.settings import load_settings


def main() -> None:
    settings = load_settings(GatewaySettings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=30,
        access_log=False,
        **settings.uvicorn_options(),
    )


if __name__ == "__main__":
    main()
