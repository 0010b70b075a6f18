"""The prediction use case, free of FastAPI: one upstream inference call as every prediction route makes
it. Size limits, the call itself (through the environment's coalescer, which may share it with concurrent
requests) and the request metrics; single and batch requests alike have all their rows in exactly one
call. What to do once the answer has been sent (mirror a production request to staging) is returned for
the route to schedule."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Literal

from pydantic import BaseModel, Field

from api_gateway import metrics
from api_gateway.coalescing import Coalescer, ResponseT
from api_gateway.core.config import GatewaySettings
from api_gateway.core.environments import Environment
from api_gateway.feedback import VerdictMemory
from api_gateway.shadow import Shadow
from serving_common.errors import PayloadTooLarge, PlatformError, UnknownTask
from serving_common.request_context import request_id_var
from serving_common.schemas import TransformerInstance
from serving_common.tasks import task_named

# What a text may cost before the gateway has read the model's own max length from its metadata.
DEFAULT_MAX_LENGTH = 512


class ServedBy(BaseModel):
    """Who answered a prediction, returned with it (the API's response models include these fields)."""

    environment: Literal["staging", "production"]
    model_name: str
    model_version: str
    request_id: str
    latency_ms: float = Field(description="Time spent in the gateway, upstream call included.")


# What runs once the answer has been sent (shadow traffic), if anything.
After = Callable[[], Awaitable[None]] | None


@dataclass(frozen=True)
class Prediction(Generic[ResponseT]):
    result: ResponseT
    served: ServedBy
    after: After


@dataclass(frozen=True)
class SizeLimits:
    max_batch_size: int
    max_text_chars: int
    max_batch_tokens: int

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> SizeLimits:
        return cls(settings.max_batch_size, settings.max_text_chars, settings.max_batch_tokens)


def token_bound(instance: TransformerInstance, max_length: int) -> int:
    """The most tokens a text can cost the model: a token covers at least one character, [CLS] and [SEP]
    are two more, and the model truncates at its max length."""
    chars = len(instance.text) + (len(instance.subject) + 1 if instance.subject else 0)
    return min(chars + 2, max_length)


def check_sizes(instances: list[TransformerInstance], limits: SizeLimits, max_length: int | None) -> int:
    """Refuses a request past any size limit (413, naming it); returns its token bound otherwise."""
    if len(instances) > limits.max_batch_size:
        raise PayloadTooLarge(
            f"batch of {len(instances)} texts exceeds the limit of {limits.max_batch_size}",
            details={"max_batch_size": limits.max_batch_size},
        )
    for i, instance in enumerate(instances):
        if len(instance.text) > limits.max_text_chars:
            raise PayloadTooLarge(
                f"text {i} has {len(instance.text)} characters; the limit is {limits.max_text_chars}",
                details={"max_text_chars": limits.max_text_chars, "index": i},
            )
    length = max_length or DEFAULT_MAX_LENGTH
    tokens = sum(token_bound(instance, length) for instance in instances)
    if tokens > limits.max_batch_tokens:
        raise PayloadTooLarge(
            f"the {len(instances)} texts may cost up to {tokens} tokens (each counts min(its characters + 2, the "
            f"model's max length {length})); the limit is {limits.max_batch_tokens}: send fewer or shorter texts",
            details={"max_batch_tokens": limits.max_batch_tokens, "batch_tokens": tokens, "max_length": length},
        )
    return tokens


class Inference:
    """Predictions from every (environment, task)'s InferenceService, each behind its coalescer."""

    def __init__(
        self,
        coalescers: Mapping[tuple[Environment, str], Coalescer],
        shadow: Shadow,
        limits: SizeLimits,
        memory: VerdictMemory | None = None,
    ) -> None:
        self.coalescers = dict(coalescers)
        self.shadow = shadow
        self.limits = limits
        self.memory = memory  # answered verdicts, for the live counts of true labels sent back (feedback)

    async def predict(
        self,
        environment: Environment,
        task: str,
        instances: list[TransformerInstance],
        *,
        endpoint: str,
        response_model: type[ResponseT],
    ) -> Prediction[ResponseT]:
        started = time.perf_counter()
        coalescer = self.coalescers.get((environment, task))
        if coalescer is None:
            tasks = sorted({served_task for _, served_task in self.coalescers})
            raise UnknownTask(
                f"this gateway serves no task {task!r}; it serves {', '.join(tasks)}",
                details={"task": task, "tasks": tasks},
            )
        client = coalescer.client
        status, version, tokens = "ok", "", 0
        request_id = request_id_var.get() or ""
        metrics.IN_FLIGHT.labels(environment).inc()
        try:
            tokens = check_sizes(instances, self.limits, client.max_length)
            result = await coalescer.predict(instances, request_id, response_model)
            version = result.model_version
        except PlatformError as exc:
            status = exc.code
            raise
        finally:
            metrics.IN_FLIGHT.labels(environment).dec()
            elapsed = time.perf_counter() - started
            metrics.REQUESTS.labels(environment, client.model_name, version, endpoint, status).inc()
            metrics.REQUEST_DURATION.labels(environment, client.model_name, version, endpoint).observe(elapsed)
        if self.memory is not None:
            answer = task_named(task).answer_label
            self.memory.remember(
                environment.value,
                request_id,
                task,
                result.model_name,
                result.model_version,
                [answer(p) for p in result.predictions],
            )
        served = ServedBy(
            environment=environment.value,
            model_name=result.model_name,
            model_version=result.model_version,
            request_id=request_id,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        after = None
        if environment is Environment.PRODUCTION and self.shadow.mirrors(task):
            after = functools.partial(self.shadow.offer, task, instances, result, request_id, tokens)
        return Prediction(result, served, after)

    async def aclose(self) -> None:
        for coalescer in self.coalescers.values():
            await coalescer.aclose()
