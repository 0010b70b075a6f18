"""Calls from the gateway to an environment's InferenceService (its feature transformer).

One pooled keep-alive ``httpx.AsyncClient`` per environment, created at start-up and closed at
shutdown; no client is built per request. Transport failures become typed gateway errors.
"""

from __future__ import annotations

import time

import httpx
import orjson
from pydantic import ValidationError

from api_gateway import metrics
from api_gateway.core.config import GatewaySettings
from api_gateway.core.environments import Environment
from api_gateway.core.errors import UpstreamFailed, UpstreamTimeout, UpstreamUnavailable
from serving_common.request_context import REQUEST_ID_HEADER
from serving_common.schemas import TransformerInstance, TransformerRequest, TransformerResponse


class InferenceServiceClient:
    def __init__(self, environment: Environment, base_url: str, model_name: str, settings: GatewaySettings):
        self.environment = environment
        self.base_url = base_url.rstrip("/")
        self.model_name = model_name
        self._readiness_timeout = settings.readiness_timeout_seconds
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(settings.upstream_timeout_seconds, connect=settings.upstream_connect_timeout_seconds),
            limits=httpx.Limits(
                max_connections=settings.upstream_max_connections,
                max_keepalive_connections=settings.upstream_keepalive_connections,
            ),
            headers={"content-type": "application/json"},
        )

    async def predict(self, instances: list[TransformerInstance], request_id: str) -> TransformerResponse:
        """One upstream call for the whole list, however many emails it holds."""
        body = orjson.dumps(TransformerRequest(instances=instances).model_dump(exclude_none=True))
        started = time.perf_counter()
        try:
            response = await self._client.post(
                f"/v1/models/{self.model_name}:predict", content=body, headers={REQUEST_ID_HEADER: request_id}
            )
        except httpx.TimeoutException:
            raise self._error(UpstreamTimeout, f"the {self.environment} environment did not answer in time") from None
        except httpx.TransportError as exc:
            raise self._error(
                UpstreamUnavailable, f"the {self.environment} environment is unreachable ({type(exc).__name__})"
            ) from None
        finally:
            metrics.UPSTREAM_DURATION.labels(self.environment, self.model_name).observe(time.perf_counter() - started)
        if response.status_code == 503:
            raise self._error(UpstreamUnavailable, f"the {self.environment} environment is not ready")
        if response.status_code != 200:
            raise self._error(
                UpstreamFailed,
                f"the {self.environment} environment answered HTTP {response.status_code}",
                upstream_status=response.status_code,
                upstream_body=response.text[:500],
            )
        try:
            result = TransformerResponse.model_validate_json(response.content)
        except ValidationError:
            raise self._error(UpstreamFailed, f"the {self.environment} environment sent an unreadable answer") from None
        if len(result.predictions) != len(instances):
            raise self._error(
                UpstreamFailed,
                f"the {self.environment} environment returned {len(result.predictions)} predictions "
                f"for {len(instances)} emails",
            )
        return result

    async def ready(self) -> bool:
        """Ready means the transformer *and* its predictor are ready (transformer health-checks it)."""
        try:
            response = await self._client.get(f"/v2/models/{self.model_name}/ready", timeout=self._readiness_timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _error(self, cls: type, message: str, **details: object) -> Exception:
        err = cls(message, details={"environment": str(self.environment), **details})
        metrics.UPSTREAM_ERRORS.labels(self.environment, self.model_name, err.code).inc()
        return err

    async def aclose(self) -> None:
        await self._client.aclose()


class Upstreams:
    """The clients of every environment, keyed by environment."""

    def __init__(self, settings: GatewaySettings):
        self._clients = {
            env: InferenceServiceClient(env, settings.upstream_url(env), settings.spam_model_name, settings)
            for env in Environment
        }

    def spam(self, environment: Environment) -> InferenceServiceClient:
        return self._clients[environment]

    def all(self) -> dict[Environment, InferenceServiceClient]:
        return dict(self._clients)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
