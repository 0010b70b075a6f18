"""Calls from the gateway to an environment's InferenceServices (their feature transformers).

One pooled keep-alive ``aiohttp.ClientSession`` per (environment, model), created at start-up and
closed at shutdown; no client is built per request. Transport failures become typed gateway errors.
aiohttp rather than httpx: httpx's pool costs time per request that grows with the connections held
(715 requests/s at 8 concurrent calls, 174 at 256, against aiohttp's 6,014 and 3,984 on loopback;
see docs/benchmarks.md), and a gateway holds hundreds.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
import orjson
from pydantic import ValidationError

from api_gateway import metrics
from api_gateway.core.config import GatewaySettings
from api_gateway.core.environments import Environment
from api_gateway.core.errors import UpstreamFailed, UpstreamRejected, UpstreamTimeout, UpstreamUnavailable
from api_gateway.resilience import CircuitBreaker, RetryBudget, backoff_seconds
from serving_common.errors import PlatformError
from serving_common.request_context import REQUEST_ID_HEADER
from serving_common.schemas import ModelInfo, TaskResponse, TransformerInstance, TransformerRequest

ResponseT = TypeVar("ResponseT", bound=TaskResponse)


@dataclass(frozen=True)
class _Answer:
    status_code: int
    content: bytes


@dataclass(frozen=True)
class ClientOptions:
    """How a client calls its InferenceService: deadlines, retries, circuit breaker, connection pool."""

    timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 2.0
    retries: int = 2
    breaker_failure_threshold: int = 5
    breaker_reset_seconds: float = 5.0
    max_connections: int = 256
    keepalive_seconds: float = 15.0
    readiness_timeout_seconds: float = 2.0

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> ClientOptions:
        return cls(
            timeout_seconds=settings.upstream_timeout_seconds,
            connect_timeout_seconds=settings.upstream_connect_timeout_seconds,
            retries=settings.upstream_retries,
            breaker_failure_threshold=settings.breaker_failure_threshold,
            breaker_reset_seconds=settings.breaker_reset_seconds,
            max_connections=settings.upstream_max_connections,
            keepalive_seconds=settings.upstream_keepalive_seconds,
            readiness_timeout_seconds=settings.readiness_timeout_seconds,
        )


class InferenceServiceClient:
    """One environment's InferenceService of one model. Implements the coalescer's ``PredictClient``."""

    def __init__(self, environment: Environment, base_url: str, model_name: str, options: ClientOptions):
        self.environment = environment
        self.base_url = base_url.rstrip("/")
        self.model_name = model_name
        # The served model's max length in tokens (from its metadata, once read): what a text can cost it.
        self.max_length: int | None = None
        self.labels: list[str] | None = None  # the served model's output labels, once read from its metadata
        self._readiness_timeout = options.readiness_timeout_seconds
        self._retries = options.retries
        self.breaker = CircuitBreaker(options.breaker_failure_threshold, options.breaker_reset_seconds)
        self.retry_budget = RetryBudget()
        self._timeout = aiohttp.ClientTimeout(total=options.timeout_seconds, connect=options.connect_timeout_seconds)
        # Needs the running event loop: clients are made in the app's lifespan.
        self._session = aiohttp.ClientSession(
            base_url=self.base_url + "/",
            timeout=self._timeout,
            headers={"content-type": "application/json"},
            connector=aiohttp.TCPConnector(
                limit=options.max_connections,
                limit_per_host=options.max_connections,
                keepalive_timeout=options.keepalive_seconds,
            ),
        )

    async def predict(
        self,
        instances: list[TransformerInstance],
        request_id: str,
        response_model: type[ResponseT],
        headers: dict[str, str] | None = None,
        timeout_seconds: float | None = None,
    ) -> ResponseT:
        """One upstream call for the whole list, however many texts it holds, within the client's deadline or
        ``timeout_seconds`` (each attempt)."""
        if not self.breaker.allow():
            err = self.error(UpstreamUnavailable, "is failing; the circuit is open and calls fail fast")
            err.retry_after_seconds = self.breaker.retry_after()
            raise err
        self.retry_budget.record_request()
        try:
            response = await self._post_with_retries(instances, request_id, headers or {}, timeout_seconds)
        except Exception:
            self.breaker.record_failure()
            raise
        if response.status_code >= 500:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        return self._read(response, instances, response_model)

    async def _post_with_retries(
        self,
        instances: list[TransformerInstance],
        request_id: str,
        headers: dict[str, str],
        timeout_seconds: float | None,
    ) -> _Answer:
        # Without features: the gateway answers none, and they are most of a spam row's bytes both ways.
        request = TransformerRequest(instances=instances, features=False)
        body = orjson.dumps(request.model_dump(exclude_none=True))
        timeout = self._timeout
        if timeout_seconds is not None:
            timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=self._timeout.connect)
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                async with self._session.post(
                    f"v1/models/{self.model_name}:predict",
                    data=body,
                    headers={REQUEST_ID_HEADER: request_id, **headers},
                    timeout=timeout,
                ) as answer:
                    response = _Answer(answer.status, await answer.read())
                retryable = response.status_code == 503  # refused before processing: safe to send again
            except aiohttp.ClientConnectorError:
                response, retryable = None, True  # nothing reached the service
            except TimeoutError:
                raise self.error(UpstreamTimeout, "did not answer in time") from None  # may have run: no retry
            except aiohttp.ClientError as exc:
                raise self.error(UpstreamUnavailable, f"is unreachable ({type(exc).__name__})") from None
            finally:
                metrics.UPSTREAM_DURATION.labels(self.environment, self.model_name).observe(
                    time.perf_counter() - started
                )
            if not retryable and response is not None:
                return response
            if attempt >= self._retries or not self.retry_budget.try_spend():
                if response is None:
                    raise self.error(UpstreamUnavailable, "is unreachable (connection refused)")
                raise self.error(UpstreamUnavailable, "is not ready or overloaded")
            metrics.UPSTREAM_RETRIES.labels(self.environment, self.model_name).inc()
            await asyncio.sleep(backoff_seconds(attempt))
            attempt += 1

    def _read(
        self, response: _Answer, instances: list[TransformerInstance], response_model: type[ResponseT]
    ) -> ResponseT:
        if 400 <= response.status_code < 500:
            raise self._rejected(response)
        if response.status_code != 200:
            raise self.error(
                UpstreamFailed,
                f"answered HTTP {response.status_code}",
                upstream_status=response.status_code,
                upstream_body=response.content[:500].decode(errors="replace"),
            )
        try:
            result = response_model.model_validate_json(response.content)
        except ValidationError:
            raise self.error(UpstreamFailed, "sent an unreadable answer") from None
        if len(result.predictions) != len(instances):
            raise self.error(UpstreamFailed, f"returned {len(result.predictions)} predictions for {len(instances)}")
        return result

    def _rejected(self, response: _Answer) -> PlatformError:
        """An upstream 4xx keeps its status and code (the platform's error shape on both sides)."""
        try:
            error = orjson.loads(response.content)["error"]
            code, message = str(error["code"]), str(error["message"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            code, message = "upstream_rejected", response.content[:500].decode(errors="replace")
        err = UpstreamRejected(
            f"the {self.environment} {self.model_name} service refused the request: {message}",
            status_code=response.status_code,
            code=code,
            details={"environment": str(self.environment), "model_name": self.model_name},
        )
        metrics.UPSTREAM_ERRORS.labels(self.environment, self.model_name, err.code).inc()
        return err

    async def _get(self, path: str) -> _Answer | None:
        try:
            async with self._session.get(path, timeout=aiohttp.ClientTimeout(total=self._readiness_timeout)) as answer:
                return _Answer(answer.status, await answer.read())
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def ready(self) -> bool:
        """Ready means the transformer *and* its predictor are ready (transformer health-checks it)."""
        answer = await self._get(f"v2/models/{self.model_name}/ready")
        return answer is not None and answer.status_code == 200

    async def info(self) -> ModelInfo | None:
        """The served model's metadata (name, version, task), or None when it cannot be had."""
        answer = await self._get(f"v1/models/{self.model_name}/metadata")
        if answer is None or answer.status_code != 200:
            return None
        try:
            info = ModelInfo.model_validate_json(answer.content)
        except ValidationError:
            return None
        self.max_length = info.max_length
        self.labels = list(info.labels)
        return info

    def error(self, cls: type[PlatformError], what: str, **details: object) -> PlatformError:
        """A typed error about this service, counted in the upstream error metric."""
        err = cls(
            f"the {self.environment} {self.model_name} service {what}",
            details={"environment": str(self.environment), "model_name": self.model_name, **details},
        )
        metrics.UPSTREAM_ERRORS.labels(self.environment, self.model_name, err.code).inc()
        return err

    async def aclose(self) -> None:
        await self._session.close()
