"""The gateway's dependencies, named once as ``Annotated`` aliases.

They are ``async def`` on purpose: none blocks (key checks are one SHA-256 and a dict lookup), and
FastAPI runs a plain ``def`` dependency on a worker thread, a thread hop per dependency per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from api_gateway.auth import Authenticator
from api_gateway.core.config import GatewaySettings
from api_gateway.core.environments import Environment
from api_gateway.core.errors import UnknownEnvironment
from api_gateway.shadow import Shadow
from api_gateway.upstream import Upstreams


async def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def get_upstreams(request: Request) -> Upstreams:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
UpstreamsDep = Annotated[Upstreams, Depends(get_upstreams)]


def resolve_environment(settings: GatewaySettings, x_environment: str | None) -> Environment:
    """The environment an ``X-Environment`` value names; absent or blank means the default."""
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


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


async def require_api_key(request: Request) -> None:
    """Any valid key (for routes that span environments, like the model list)."""
    authenticator: Authenticator | None = request.app.state.authenticator
    if authenticator is not None:
        authenticator.authenticate(_presented_key(request))


@dataclass(frozen=True)
class Serving:
    """What a prediction route needs, resolved as one dependency: FastAPI's per-dependency work is a
    measurable share of a request at thousands of requests a second (docs/benchmarks.md)."""

    settings: GatewaySettings
    upstreams: Upstreams
    environment: Environment
    shadow: Shadow


async def serving(
    request: Request,
    x_environment: Annotated[
        str | None, Header(description="staging or production; absent means the default (staging).")
    ] = None,
) -> Serving:
    """The settings, clients, and the requested environment once the caller's API key may use it."""
    settings: GatewaySettings = request.app.state.settings
    environment = resolve_environment(settings, x_environment)
    authenticator: Authenticator | None = request.app.state.authenticator
    if authenticator is not None:
        authenticator.authorize(_presented_key(request), environment)
    return Serving(settings, request.app.state.upstreams, environment, request.app.state.shadow)


ServingDep = Annotated[Serving, Depends(serving)]
