"""Coalescing at the front door: concurrent requests for one (environment, model) share upstream calls.

Every email used to cross the transformer and the predictor in a call of its own, paying HTTP, JSON
and pydantic work per email at both hops; only the predictor batched. Here the gateway merges them
before the expensive hops, the way text-embeddings-inference batches before its model:

- **Adaptive.** A request that finds no upstream call in flight for its model is sent at once and
  waits for nothing (the lone request at low load). Otherwise it queues, and the queue is sent as one
  call when it holds ``max_rows`` rows, when its oldest request has waited ``max_wait_ms``, or as soon
  as no call is in flight any more, with at most ``max_calls`` calls in flight at once. So batches grow
  with the load, and at low load nothing waits.
- **Exactly its own answer.** Each caller's rows are sent together and in order; it gets back exactly
  its slice of the call's predictions. A batch request is never split: it keeps its promise of one
  upstream call, all or nothing, for its own rows.
- **Per-row request ids.** Each row carries its caller's request id to the transformer, which writes
  it to the inference log; the call's ``X-Request-ID`` is the caller's own when it is sent alone.
- **One failure for all.** A failed call gives every caller in it the same typed error.
- **Each caller's own deadline.** A caller waits at most ``upstream_timeout_seconds`` in all, queue
  included; past it, it gets its own 504 and leaves the queue, and the others are not affected.
- **A dead dispatcher is noticed.** Should the dispatching task ever die, its waiting callers are
  failed with a typed error at once and the next request starts a new one.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, cast

from api_gateway import metrics
from api_gateway.core.errors import UpstreamFailed, UpstreamTimeout
from serving_common.errors import PlatformError
from serving_common.schemas import TaskResponse, TransformerInstance

log = logging.getLogger(__name__)

ResponseT = TypeVar("ResponseT", bound=TaskResponse)


class PredictClient(Protocol):
    """What the coalescer calls: one environment's service of one model (``upstream.InferenceServiceClient``;
    a fake in the unit tests)."""

    @property
    def environment(self) -> str: ...

    @property
    def model_name(self) -> str: ...

    @property
    def max_length(self) -> int | None:
        """The model's max length in tokens, once read from its metadata."""

    async def predict(
        self, instances: list[TransformerInstance], request_id: str, response_model: type[ResponseT]
    ) -> ResponseT: ...

    def error(self, cls: type[PlatformError], what: str, **details: object) -> PlatformError: ...


@dataclass(eq=False)
class _Waiting:
    instances: list[TransformerInstance]
    request_id: str
    response_model: type[TaskResponse]
    future: asyncio.Future[TaskResponse]
    enqueued: float = field(default_factory=time.perf_counter)

    @property
    def rows(self) -> int:
        return len(self.instances)


class Coalescer:
    """Merges concurrent calls to one InferenceService client (one environment and model)."""

    def __init__(
        self,
        client: PredictClient,
        *,
        enabled: bool = True,
        max_rows: int = 32,
        max_wait_ms: float = 2.0,
        max_calls: int = 4,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.client = client
        self.enabled = enabled
        self.max_rows = max_rows
        self.max_wait = max_wait_ms / 1000.0
        self.max_calls = max_calls
        self.timeout = timeout_seconds
        self._queue: deque[_Waiting] = deque()
        self._queued_rows = 0
        self._in_flight = 0
        self._changed = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()
        self._labels = (client.environment, client.model_name)

    async def predict(
        self, instances: list[TransformerInstance], request_id: str, response_model: type[ResponseT]
    ) -> ResponseT:
        """The caller's own rows' answer, from a call of its own or one shared with concurrent callers."""
        for instance in instances:
            instance.request_id = request_id
        if not self.enabled or (self._in_flight == 0 and not self._queue):
            return await self._alone(instances, request_id, response_model)
        waiting = _Waiting(instances, request_id, response_model, asyncio.get_running_loop().create_future())
        self._enqueue(waiting)
        try:
            # The future is this caller's alone: the deadline cancelling it is the caller leaving.
            async with asyncio.timeout(self.timeout):
                return cast("ResponseT", await waiting.future)  # the caller's own response_model
        except TimeoutError:
            self._withdraw(waiting)
            raise self.client.error(UpstreamTimeout, "did not answer in time") from None
        except asyncio.CancelledError:  # the caller itself went away (client disconnect, shutdown)
            self._withdraw(waiting)
            raise

    async def _alone(
        self, instances: list[TransformerInstance], request_id: str, response_model: type[ResponseT]
    ) -> ResponseT:
        self._in_flight += 1
        self._observe(rows=len(instances), requests=1, waits=[0.0])
        try:
            return await self.client.predict(instances, request_id, response_model)
        finally:
            self._in_flight -= 1
            self._changed.set()

    def _enqueue(self, waiting: _Waiting) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch(), name="gateway-coalescer")
            self._dispatcher.add_done_callback(self._dispatcher_ended)
        self._queue.append(waiting)
        self._queued_rows += waiting.rows
        self._changed.set()

    def _withdraw(self, waiting: _Waiting) -> None:
        if waiting in self._queue:
            self._queue.remove(waiting)
            self._queued_rows -= waiting.rows
        if not waiting.future.done():
            waiting.future.cancel()

    async def _dispatch(self) -> None:
        while True:
            while not self._queue:
                self._changed.clear()
                await self._changed.wait()
            # The batch closes at max_rows, max_wait after its oldest request, or once nothing is in flight.
            deadline = self._queue[0].enqueued + self.max_wait
            while (
                self._queue
                and self._queued_rows < self.max_rows
                and self._in_flight > 0
                and (remaining := deadline - time.perf_counter()) > 0
            ):
                # Woken by a change or by the deadline: a timer on the loop, not a Task per wait (wait_for's).
                self._changed.clear()
                timer = asyncio.get_running_loop().call_later(remaining, self._changed.set)
                try:
                    await self._changed.wait()
                finally:
                    timer.cancel()
            while self._in_flight >= self.max_calls:
                self._changed.clear()
                await self._changed.wait()
            batch = self._take()
            if batch:
                self._in_flight += 1
                task = asyncio.get_running_loop().create_task(self._call(batch))
                self._calls.add(task)
                task.add_done_callback(self._calls.discard)

    def _take(self) -> list[_Waiting]:
        """Whole requests in arrival order up to max_rows rows (a larger single request goes alone)."""
        batch: list[_Waiting] = []
        rows = 0
        while self._queue and (not batch or rows + self._queue[0].rows <= self.max_rows):
            waiting = self._queue.popleft()
            self._queued_rows -= waiting.rows
            if waiting.future.done():  # its caller gave up
                continue
            batch.append(waiting)
            rows += waiting.rows
        return batch

    async def _call(self, batch: list[_Waiting]) -> None:
        now = time.perf_counter()
        instances = [instance for waiting in batch for instance in waiting.instances]
        self._observe(rows=len(instances), requests=len(batch), waits=[now - w.enqueued for w in batch])
        call_id = batch[0].request_id if len(batch) == 1 else f"coalesced-{uuid.uuid4().hex}"
        try:
            result = await self.client.predict(instances, call_id, batch[0].response_model)
        except Exception as exc:  # every caller of the call learns of the same failure
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(exc)
            return
        finally:
            self._in_flight -= 1
            self._changed.set()
        start = 0
        for waiting in batch:
            if not waiting.future.done():
                own = result.predictions[start : start + waiting.rows]
                waiting.future.set_result(result.model_copy(update={"predictions": own}))
            start += waiting.rows

    def _dispatcher_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        log.error("the coalescing dispatcher of %s/%s died: %r", *self._labels, exc)
        error = self.client.error(UpstreamFailed, "could not be called: the gateway's dispatcher failed")
        while self._queue:
            waiting = self._queue.popleft()
            if not waiting.future.done():
                waiting.future.set_exception(error)
        self._queued_rows = 0

    def _observe(self, *, rows: int, requests: int, waits: list[float]) -> None:
        metrics.COALESCED_ROWS.labels(*self._labels).observe(rows)
        metrics.COALESCED_REQUESTS.labels(*self._labels).observe(requests)
        wait = metrics.COALESCE_WAIT.labels(*self._labels)
        for seconds in waits:
            wait.observe(seconds)

    async def aclose(self) -> None:
        tasks = [task for task in [self._dispatcher, *self._calls] if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
