"""Adaptive batching: concurrent requests share one forward pass.

Wraps a ``forward(input_ids, attention_mask)`` function from the outside (it returns one array or a
tuple of arrays, one row per input row: logits, embeddings); the model never knows it is batched.
Requests queue (bounded, in rows; one larger than a pass a pass at a time); a batch closes when it
holds ``max_batch_size`` rows or ``max_batch_tokens`` padded tokens (a token budget, as
text-embeddings-inference batches), or at once when the model is idle (``start_when_idle``; requests
arriving during a pass form the next batch), or else when ``max_wait_ms`` has passed since its first
request; it is padded to its longest sequence (not to the model's max length; split in two length
buckets when that saves much padding), runs on a worker thread so the event loop keeps accepting
requests, and every caller gets exactly its own rows back.
While one batch runs, the next one fills up.

Pipelined passes (a GPU): given ``collect``, ``forward`` only *launches* a pass (stages its inputs and
queues the work on the device) and returns a handle; ``collect`` waits for it on a thread of its own and
returns the rows. Up to ``pipeline_depth`` passes are launched and not yet collected, so the next batch
is taken, padded and copied to the device while the current one runs, as text-embeddings-inference
prefetches its next batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model_server import metrics
from model_server.errors import BatcherFailed, Overloaded

log = logging.getLogger(__name__)

Rows = np.ndarray | tuple[np.ndarray, ...]
Forward = Callable[[np.ndarray, np.ndarray], Any]  # the rows, or with ``collect`` a launched pass
Collect = Callable[[Any], Rows]


def _slice_rows(result: Rows, start: int, stop: int) -> Rows:
    if isinstance(result, tuple):
        return tuple(part[start:stop] for part in result)
    return result[start:stop]


@dataclass
class _Pending:
    input_ids: np.ndarray
    attention_mask: np.ndarray
    future: asyncio.Future[Rows]
    enqueued: float = field(default_factory=time.perf_counter)

    @property
    def rows(self) -> int:
        return int(self.input_ids.shape[0])


def pad_and_stack(parts: list[tuple[np.ndarray, np.ndarray]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stack [rows, len] arrays of different lengths into one [sum(rows), max(len)] batch."""
    width = max(ids.shape[1] for ids, _ in parts)
    rows = sum(ids.shape[0] for ids, _ in parts)
    input_ids = np.full((rows, width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((rows, width), dtype=np.int64)
    r = 0
    for ids, mask in parts:
        input_ids[r : r + ids.shape[0], : ids.shape[1]] = ids
        attention_mask[r : r + ids.shape[0], : ids.shape[1]] = mask
        r += ids.shape[0]
    return input_ids, attention_mask


# A split into two length buckets must save at least this share of the padded tokens to pay for the
# second forward pass.
BUCKET_MIN_SAVING = 0.4


def length_buckets(lengths: list[int], rows: list[int]) -> list[list[int]]:
    """Indices of requests to run together: one group, or two by length when padding would waste a lot.

    Padding a batch to its longest sequence costs ``sum(rows) * max(length)`` token slots. When a few
    long texts arrive with many short ones, running the short ones apart saves most of that; the
    split is taken only when it saves at least :data:`BUCKET_MIN_SAVING` of the slots.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    whole = sum(rows) * max(lengths)
    best, best_cost = None, whole
    for cut in range(1, len(order)):
        short, long_ = order[:cut], order[cut:]
        cost = sum(rows[i] for i in short) * lengths[short[-1]] + sum(rows[i] for i in long_) * lengths[long_[-1]]
        if cost < best_cost:
            best, best_cost = cut, cost
    if best is None or best_cost > whole * (1 - BUCKET_MIN_SAVING):
        return [list(range(len(lengths)))]
    return [sorted(order[:best]), sorted(order[best:])]


class AdaptiveBatcher:
    def __init__(
        self,
        forward: Forward,
        executor: Executor,
        *,
        max_batch_size: int = 32,
        max_wait_ms: float = 5.0,
        max_queue_rows: int = 1024,
        start_when_idle: bool = False,
        max_batch_tokens: int = 1 << 30,
        collect: Collect | None = None,
        collect_executor: Executor | None = None,
        pipeline_depth: int = 1,
        model_name: str = "",
        model_version: str = "",
    ) -> None:
        if collect is not None and collect_executor is None:
            raise ValueError("a pipelined batcher collects its passes on an executor of their own")
        if pipeline_depth < 1:
            raise ValueError(f"pipeline_depth must be at least 1, not {pipeline_depth}")
        self._forward = forward
        self._executor = executor
        self._collect = collect
        self._collect_executor = collect_executor
        self.pipeline_depth = pipeline_depth
        self._in_flight = 0  # passes launched and not yet delivered
        self._pass_done = asyncio.Event()
        self._collecting: set[asyncio.Task[None]] = set()
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue_rows = max_queue_rows
        self.start_when_idle = start_when_idle
        self.max_batch_tokens = max_batch_tokens
        self._queue: deque[_Pending] = deque()
        self._queued_rows = 0
        self._reserved_rows = 0  # rows of requests larger than a pass, admitted and not yet queued
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._running: list[_Pending] = []  # the batch being executed, failed too if the worker dies
        self._labels = (model_name, model_version)

    async def submit(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> Rows:
        """Queue one request's rows and wait for exactly its rows of the forward's result. A request larger than
        one pass (``max_batch_size`` rows or ``max_batch_tokens`` padded tokens) runs as passes of that size, one
        after another, each queued behind what arrived during the last: a request that comes while a large one
        runs waits for one of its passes, not for all of them, and every pass stays within its bounds."""
        rows = input_ids.shape[0]
        waiting = self._queued_rows + self._reserved_rows
        if waiting + rows > self.max_queue_rows:
            metrics.REJECTED.labels(*self._labels).inc()
            raise Overloaded(f"the model server's queue is full ({waiting} rows waiting, limit {self.max_queue_rows})")
        step = max(1, min(self.max_batch_size, self.max_batch_tokens // max(input_ids.shape[1], 1)))
        if rows <= step:
            return await self._queued(input_ids, attention_mask)
        # The rows not yet queued count as waiting, so that the queue's bound holds for them too.
        self._reserved_rows += rows
        parts: list[Rows] = []
        moved = 0
        try:
            for start in range(0, rows, step):
                size = min(step, rows - start)
                self._reserved_rows -= size
                moved += size
                parts.append(await self._queued(input_ids[start : start + size], attention_mask[start : start + size]))
        finally:  # failed or cancelled: the rows it will not queue wait no more
            self._reserved_rows -= rows - moved
            self._report_queue()
        if isinstance(parts[0], tuple):
            return tuple(np.concatenate(outputs) for outputs in zip(*parts, strict=True))
        return np.concatenate(parts)

    def _report_queue(self) -> None:
        """``model_server_queue_rows``: the rows waiting, those of large requests not yet queued included."""
        metrics.QUEUE_ROWS.labels(*self._labels).set(self._queued_rows + self._reserved_rows)

    async def _queued(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> Rows:
        rows = input_ids.shape[0]
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="adaptive-batcher")
            self._worker.add_done_callback(self._worker_ended)
        future: asyncio.Future[Rows] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(input_ids, attention_mask, future))
        self._queued_rows += rows
        self._report_queue()
        self._wakeup.set()
        return await future

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            await self._until_a_pass_may_start()
            # The model can take a pass now (idle, or with a pipeline slot free). Starting at once, what
            # arrives during the pass forms the next batch (text-embeddings-inference's rule); otherwise
            # the batch gets until max_wait after its oldest request to fill up (MLServer's).
            deadline = self._queue[0].enqueued + (0.0 if self.start_when_idle else self.max_wait)
            while self._queued_rows < self.max_batch_size and (remaining := deadline - time.perf_counter()) > 0:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except TimeoutError:
                    break
            self._running = self._take()
            await self._execute(self._running)
            self._running = []

    def _take(self) -> list[_Pending]:
        """Requests in arrival order up to max_batch_size rows and max_batch_tokens padded tokens (rows
        x the longest sequence: what a pass costs); a larger request is queued a pass at a time (``submit``)."""
        batch = [self._queue.popleft()]
        rows, width = batch[0].rows, batch[0].input_ids.shape[1]
        while self._queue:
            item = self._queue[0]
            wider = max(width, item.input_ids.shape[1])
            if rows + item.rows > self.max_batch_size or (rows + item.rows) * wider > self.max_batch_tokens:
                break
            batch.append(self._queue.popleft())
            rows, width = rows + item.rows, wider
        self._queued_rows -= rows
        self._report_queue()
        return batch

    async def _execute(self, batch: list[_Pending]) -> None:
        live = [p for p in batch if not p.future.cancelled()]
        if not live:
            return
        now = time.perf_counter()
        for pending in live:
            metrics.QUEUE_WAIT_SECONDS.labels(*self._labels).observe(now - pending.enqueued)
        groups = length_buckets([p.input_ids.shape[1] for p in live], [p.rows for p in live])
        for n, group in enumerate(groups):
            if n:  # the first pass's slot was awaited before the batch was taken
                await self._until_a_pass_may_start()
            await self._launch([live[i] for i in group])

    async def _until_a_pass_may_start(self) -> None:
        while self._in_flight >= self.pipeline_depth:
            self._pass_done.clear()
            await self._pass_done.wait()

    async def _launch(self, group: list[_Pending]) -> None:
        """Run one pass (or, pipelined, launch it and leave its collection to a task of its own)."""
        input_ids, attention_mask = pad_and_stack([(p.input_ids, p.attention_mask) for p in group])
        self._in_flight += 1
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._forward, input_ids, attention_mask
            )
        except Exception as exc:
            self._deliver(group, exc)
            return
        except BaseException:  # cancelled (close): the pass's callers learn it, its slot frees
            self._deliver(group, BatcherFailed("the model server's batching worker stopped"))
            raise
        if self._collect is None:
            self._deliver(group, result)
            return
        task = asyncio.get_running_loop().create_task(self._collect_pass(group, result), name="collect-pass")
        self._collecting.add(task)
        task.add_done_callback(self._collecting.discard)

    async def _collect_pass(self, group: list[_Pending], launched: Any) -> None:
        assert self._collect is not None
        try:
            rows = await asyncio.get_running_loop().run_in_executor(self._collect_executor, self._collect, launched)
        except Exception as exc:
            self._deliver(group, exc)
        else:
            self._deliver(group, rows)

    def _deliver(self, group: list[_Pending], result: Rows | Exception) -> None:
        """Every caller of a pass gets exactly its rows, or the pass's failure; the pass's slot frees."""
        self._in_flight -= 1
        self._pass_done.set()
        start = 0
        for pending in group:
            if not pending.future.done():
                if isinstance(result, Exception):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(_slice_rows(result, start, start + pending.rows))
            start += pending.rows

    def _worker_ended(self, task: asyncio.Task[None]) -> None:
        """The worker never ends on its own; if it dies, its waiting callers fail now instead of
        hanging until their timeout, and the next request starts a new worker."""
        if task.cancelled():
            return
        exc = task.exception()
        log.error(
            "the batching worker of %s died: %r; failing %d waiting requests", self._labels[0], exc, len(self._queue)
        )
        error = BatcherFailed(f"the model server's batching worker failed ({type(exc).__name__})")
        for pending in [*self._running, *self._queue]:
            if not pending.future.done():
                pending.future.set_exception(error)
        self._running = []
        self._queue.clear()
        self._queued_rows = 0
        self._report_queue()

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        for task in list(self._collecting):
            task.cancel()
