"""The gateway's dependencies, named once as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from api_gateway.core.config import GatewaySettings
from api_gateway.core.environments import Environment
from api_gateway.core.errors import UnknownEnvironment
from api_gateway.upstream import Upstreams


def get_settings(request: Request) -> GatewaySettings:
    return request.app.state.settings


def get_upstreams(request: Request) -> Upstreams:
    return request.app.state.upstreams


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
UpstreamsDep = Annotated[Upstreams, Depends(get_upstreams)]


def get_environment(
    settings: SettingsDep,
    x_environment: Annotated[
        str | None, Header(description="staging or production; absent means the default (staging).")
    ] = None,
) -> Environment:
    if x_environment is None or not x_environment.strip():
        return settings.default_environment
    try:
        return Environment(x_environment.strip().lower())
    except ValueError:
        valid = ", ".join(e.value for e in Environment)
        raise UnknownEnvironment(
            f"unknown X-Environment {x_environment!r}; valid values: {valid}",
            details={"valid_environments": [e.value for e in Environment]},
        ) from None


EnvironmentDep = Annotated[Environment, Depends(get_environment)]
