"""Shadow traffic: a sampled share of production's requests, mirrored to staging after production has
answered, to measure how often the staging model would have disagreed on production's own traffic.

- **Never in production's way.** A request is offered to the shadow only after production's answer
  is built; offering is a sampling draw and a non-blocking put. Production's answer, status and
  latency do not depend on anything here.
- **Bounded.** A queue of ``shadow_queue_size`` requests; when it is full, the request is dropped and
  counted. A few workers call staging with their own deadline and no retries, through clients of
  their own (their own pool and circuit breaker: staging's real callers are not affected).
- **Given the time its size needs** (:class:`ShadowDeadline`): a short deadline for a small request, and
  for a batch twice (``shadow_timeout_factor``) the share of production's upstream deadline its tokens are of
  the largest batch the gateway accepts, which that deadline is sized for. A fixed short deadline dropped
  every large batch's copy after staging had done its work, so the agreement counted small requests only;
  production's own share dropped the largest batch's copy where it ran beside production's next request on
  the same two cores (a CI run, 2026-12-07).
- **Compared.** Staging's verdict on the same text is compared with production's by the model's
  task (``ModelTask.compare``), per model and (production version, staging version) pair: agreement
  of each field the task compares (spam: the label; intent: the intent and the complexity level),
  and the absolute difference of the probability given to production's label.
- **Logged.** The call carries ``X-Textserve-Shadow: true``: the staging transformer logs those rows
  under ``environment=staging-shadow``, apart from staging's own traffic, so drift can be compared too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass

from api_gateway import metrics
from api_gateway.upstream import InferenceServiceClient
from serving_common.errors import PlatformError
from serving_common.request_context import SHADOW_HEADER
from serving_common.schemas import TaskResponse, TransformerInstance
from serving_common.tasks import AnyTask, task_named

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShadowDeadline:
    """How long a mirrored call may take: ``base_seconds`` at least, and ``full_seconds`` (the largest batch's:
    production's upstream deadline times the gateway's ``shadow_timeout_factor``) prorated by the request's token
    bound against ``full_tokens`` (the largest batch accepted)."""

    base_seconds: float
    full_seconds: float
    full_tokens: int

    def seconds(self, tokens: int) -> float:
        prorated = self.full_seconds * min(tokens, self.full_tokens) / self.full_tokens
        return max(self.base_seconds, prorated)


@dataclass(frozen=True)
class _Mirrored:
    task: AnyTask
    instances: list[TransformerInstance]
    production: TaskResponse
    request_id: str
    tokens: int


class Shadow:
    """Mirrors ``shares[task]`` of production's requests through ``clients[task]`` (staging's service,
    with a pool and breaker of their own), each call within ``deadline``; tasks without a client are not
    mirrored."""

    def __init__(
        self,
        shares: Mapping[str, float],
        clients: Mapping[str, InferenceServiceClient],
        *,
        queue_size: int,
        concurrency: int,
        deadline: ShadowDeadline,
        rng: random.Random | None = None,
    ) -> None:
        self.shares = {task: share for task, share in shares.items() if task in clients}
        self.deadline = deadline
        self._rng = rng or random.Random()
        self._queue: asyncio.Queue[_Mirrored] = asyncio.Queue(maxsize=queue_size)
        self._clients = dict(clients)
        self._workers = [
            asyncio.get_running_loop().create_task(self._work(), name=f"shadow-{i}")
            for i in range(concurrency if self._clients else 0)
        ]

    def mirrors(self, task: str) -> bool:
        """Whether any of ``task``'s production requests are mirrored."""
        return self.shares.get(task, 0.0) > 0

    async def offer(
        self,
        task: str,
        instances: list[TransformerInstance],
        production: TaskResponse,
        request_id: str,
        tokens: int,
    ) -> None:
        """Mirror a production request that has been answered, if its model's share draws it; ``tokens`` is
        its token bound (``inference.check_sizes``), which sets its deadline.

        A coroutine, though it never waits: Starlette runs a response's plain-function background task
        on a worker thread, and the request stays in flight (against ``max_in_flight``) until that
        thread is free; under load that queue kept answered requests counted and refused new ones."""
        if self._rng.random() >= self.shares.get(task, 0.0):  # a share of 0 never draws
            return
        name = production.model_name
        try:
            self._queue.put_nowait(_Mirrored(task_named(task), instances, production, request_id, tokens))
        except asyncio.QueueFull:
            metrics.SHADOW_REQUESTS.labels(name, "dropped", "queue_full").inc()

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._mirror(item)
            except Exception:  # a bug here must never stop the worker
                log.exception("shadow comparison failed")

    async def _mirror(self, item: _Mirrored) -> None:
        client = self._clients[item.task.name]
        name = item.production.model_name
        try:
            staging = await client.predict(
                item.instances,
                item.request_id,
                item.task.response_model,
                headers={SHADOW_HEADER: "true"},
                timeout_seconds=self.deadline.seconds(item.tokens),
            )
        except PlatformError as exc:
            metrics.SHADOW_REQUESTS.labels(name, "dropped", exc.code).inc()
            return
        metrics.SHADOW_REQUESTS.labels(name, "shadowed", "").inc()
        compare(item.task, item.production, staging)

    async def aclose(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        for client in self._clients.values():
            await client.aclose()


def compare(task: AnyTask, production: TaskResponse, staging: TaskResponse) -> None:
    """Count agreement of each row's verdicts as the task compares them, per model and version pair."""
    labels = (production.model_name, production.model_version, staging.model_version)
    delta = metrics.SHADOW_PROBABILITY_DELTA.labels(*labels)
    for ours, theirs in zip(production.predictions, staging.predictions, strict=True):
        comparison = task.compare(ours, theirs)
        for field, agreed in comparison.agreements.items():
            metrics.SHADOW_COMPARISONS.labels(*labels, field, "agree" if agreed else "disagree").inc()
        delta.observe(comparison.probability_delta)
