"""The gateway's dependencies, named once as ``Annotated`` aliases.

They are ``async def`` on purpose: none blocks (key checks are one SHA-256 and a dict lookup), and
FastAPI runs a plain ``def`` dependency on a worker thread, a thread hop per dependency per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from api_gateway.auth import Authenticator, Permission
from api_gateway.coalescing import ResponseT
from api_gateway.core.config import GatewaySettings
from api_gateway.core.environments import Environment
from api_gateway.core.errors import UnknownEnvironment
from api_gateway.inference import Inference, Prediction
from api_gateway.readiness import Clients
from serving_common.schemas import TransformerInstance


async def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def get_clients(request: Request) -> Clients:
    clients: Clients = request.app.state.clients
    return clients


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
ClientsDep = Annotated[Clients, Depends(get_clients)]


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


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


async def require_api_key(request: Request) -> None:
    """Any valid key (for routes that span environments, like the model list)."""
    authenticator: Authenticator | None = request.app.state.authenticator
    if authenticator is not None:
        authenticator.authenticate(presented_key(request))


@dataclass(frozen=True)
class EnvironmentInference:
    """The prediction use case bound to the environment a request asked for (and its key may use), resolved
    as one dependency: FastAPI's per-dependency work is a measurable share of a request at thousands of
    requests a second (docs/benchmarks.md)."""

    environment: Environment
    inference: Inference

    async def predict(
        self,
        task: str,
        instances: list[TransformerInstance],
        *,
        endpoint: str,
        response_model: type[ResponseT],
    ) -> Prediction[ResponseT]:
        return await self.inference.predict(
            self.environment, task, instances, endpoint=endpoint, response_model=response_model
        )


def authorized_environment(
    request: Request, x_environment: str | None, permission: Permission = "predict"
) -> tuple[Environment, str | None]:
    """The requested environment, once the caller's API key may send ``permission`` requests there; and the
    key's name (None with keys off)."""
    settings: GatewaySettings = request.app.state.settings
    environment = resolve_environment(settings, x_environment)
    authenticator: Authenticator | None = request.app.state.authenticator
    if authenticator is None:
        return environment, None
    return environment, authenticator.authorize(presented_key(request), environment, permission).name


X_ENVIRONMENT = "staging or production; absent means the default (staging)."
# The header as OpenAPI shows a declared header parameter, for a route that reads it itself.
X_ENVIRONMENT_PARAMETER: dict[str, Any] = {
    "name": "x-environment",
    "in": "header",
    "required": False,
    "description": X_ENVIRONMENT,
    "schema": {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "description": X_ENVIRONMENT,
        "title": "X-Environment",
    },
}


async def environment_inference(
    request: Request, x_environment: Annotated[str | None, Header(description=X_ENVIRONMENT)] = None
) -> EnvironmentInference:
    """The requested environment, once the caller's API key may use it, with the prediction use case."""
    environment, _ = authorized_environment(request, x_environment)
    return EnvironmentInference(environment, request.app.state.inference)


@dataclass(frozen=True)
class FeedbackAccess:
    """The environment a label is for, once the key may send feedback there, and the key's name."""

    environment: Environment
    key: str | None


async def feedback_access(
    request: Request,
    x_environment: Annotated[
        str | None, Header(description="The environment that answered the prediction; absent: the default.")
    ] = None,
) -> FeedbackAccess:
    return FeedbackAccess(*authorized_environment(request, x_environment, "feedback"))


InferenceDep = Annotated[EnvironmentInference, Depends(environment_inference)]
FeedbackAccessDep = Annotated[FeedbackAccess, Depends(feedback_access)]
