"""The adaptive batcher: merging, row bookkeeping, limits, failures. The forward functions here are real
(row sums of the token ids), so every caller can check it got exactly its own rows."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from ml_common.classifier import SequenceClassifier
from model_server.batching import AdaptiveBatcher, length_buckets, pad_and_stack
from model_server.errors import BatcherFailed, Overloaded
from model_server.predictor import ClassifierPredictor
from model_server.settings import ModelServerSettings
from serving_common.embedding import EMBEDDING_DIM


class RowSums:
    """logits[i] = [sum of row i's ids, its unpadded length]; records every batch it ran."""

    def __init__(self, delay: float = 0.0):
        self.batches: list[tuple[int, int]] = []
        self.delay = delay

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        self.batches.append(ids.shape)
        time.sleep(self.delay)
        return np.stack([(ids * mask).sum(axis=1), mask.sum(axis=1)], axis=1).astype(np.float32)


def _request(values: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    return pad_and_stack([(np.array([v]), np.ones((1, len(v)), dtype=np.int64)) for v in values])


@pytest.fixture
def executor():
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


def test_pad_and_stack_pads_to_the_longest_only():
    ids, mask = pad_and_stack([(np.array([[1, 2, 3]]), np.ones((1, 3))), (np.array([[4], [5]]), np.ones((2, 1)))])
    assert ids.tolist() == [[1, 2, 3], [4, 0, 0], [5, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0], [1, 0, 0]]


async def test_concurrent_requests_share_a_forward_pass_and_get_their_own_rows(executor):
    forward = RowSums()
    batcher = AdaptiveBatcher(forward, executor, max_batch_size=64, max_wait_ms=50)
    requests = [_request([[i, i + 1]] if i % 2 else [[i], [i, i, i]]) for i in range(1, 11)]
    results = await asyncio.gather(*(batcher.submit(ids, mask) for ids, mask in requests))
    assert len(forward.batches) == 1  # ten requests, one forward pass
    for (ids, mask), logits in zip(requests, results, strict=True):
        assert logits.shape[0] == ids.shape[0]
        np.testing.assert_array_equal(logits[:, 0], (ids * mask).sum(axis=1))
        np.testing.assert_array_equal(logits[:, 1], mask.sum(axis=1))
    await batcher.close()


async def test_batches_never_exceed_max_batch_size(executor):
    forward = RowSums()
    batcher = AdaptiveBatcher(forward, executor, max_batch_size=4, max_wait_ms=20)
    await asyncio.gather(*(batcher.submit(*_request([[i]])) for i in range(10)))
    assert max(rows for rows, _ in forward.batches) <= 4 and sum(rows for rows, _ in forward.batches) == 10
    await batcher.close()


# Passes long enough that the event loop acts within one of them even on a loaded machine.
PASS_SECONDS = 0.2


async def test_a_request_larger_than_a_pass_runs_as_passes_that_let_later_requests_in(executor):
    forward = RowSums(delay=PASS_SECONDS)
    batcher = AdaptiveBatcher(forward, executor, max_batch_size=2, max_wait_ms=1)
    large = asyncio.ensure_future(batcher.submit(*_request([[1], [2], [3], [4], [5]])))
    while not forward.batches:  # the large request's first pass is running
        await asyncio.sleep(0.001)
    small = await batcher.submit(*_request([[7, 7]]))
    assert not large.done()  # the small request did not wait for the whole large one
    logits = await large
    assert logits[:, 0].tolist() == [1, 2, 3, 4, 5]  # every row back, in order
    assert small[:, 0].tolist() == [14]
    assert forward.batches == [(2, 1), (1, 2), (2, 1), (1, 1)]  # the small one ran after the large one's first pass
    await batcher.close()


async def test_the_queue_bound_counts_the_rows_a_large_request_has_not_queued_yet(executor):
    forward = RowSums(delay=PASS_SECONDS)
    batcher = AdaptiveBatcher(forward, executor, max_batch_size=2, max_wait_ms=1, max_queue_rows=8)
    large = asyncio.ensure_future(batcher.submit(*_request([[i] for i in range(1, 7)])))  # 6 rows, passes of 2
    while not forward.batches:
        await asyncio.sleep(0.001)
    with pytest.raises(Overloaded, match="4 rows waiting"):  # its 4 rows still to run, and 5 more: over 8
        await batcher.submit(*_request([[9]] * 5))
    assert (await large)[:, 0].tolist() == [1, 2, 3, 4, 5, 6]
    await batcher.submit(*_request([[9]] * 5))  # nothing waits now: admitted
    passes = len(forward.batches)
    cancelled = asyncio.ensure_future(batcher.submit(*_request([[i] for i in range(1, 7)])))
    while len(forward.batches) == passes:  # its first pass is running, 4 rows still to queue
        await asyncio.sleep(0.001)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await batcher.submit(*_request([[9]] * 8))  # a cancelled request's rows wait no more: all 8 admitted
    await batcher.close()


async def test_a_token_budget_splits_a_request_of_long_rows_and_its_outputs_are_joined(executor):
    def forward(ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ids.sum(axis=1, keepdims=True).astype(np.float32), np.repeat(mask.sum(axis=1, keepdims=True), 3, 1)

    passes: list[tuple[int, int]] = []
    batcher = AdaptiveBatcher(
        lambda ids, mask: passes.append(ids.shape) or forward(ids, mask),
        executor,
        max_batch_size=64,
        max_wait_ms=1,
        max_batch_tokens=20,
    )
    ids, mask = _request([[i] * 8 for i in range(1, 6)])  # 5 rows of 8 tokens: 40 > 20, so passes of 2 rows
    logits, embedding = await batcher.submit(ids, mask)
    assert passes == [(2, 8), (2, 8), (1, 8)]
    assert logits[:, 0].tolist() == [8, 16, 24, 32, 40] and embedding.shape == (5, 3)
    await batcher.close()


async def test_a_lone_request_waits_at_most_max_wait(executor):
    batcher = AdaptiveBatcher(RowSums(), executor, max_batch_size=64, max_wait_ms=30)
    started = time.perf_counter()
    await batcher.submit(*_request([[7]]))
    assert time.perf_counter() - started < 0.5
    await batcher.close()


async def test_a_full_queue_refuses_at_once(executor):
    batcher = AdaptiveBatcher(RowSums(delay=0.2), executor, max_batch_size=1, max_wait_ms=0, max_queue_rows=2)
    results = await asyncio.gather(*(batcher.submit(*_request([[i]])) for i in range(6)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, Overloaded)]
    served = [r for r in results if isinstance(r, np.ndarray)]
    assert refused and served and len(refused) + len(served) == 6
    assert refused[0].status_code == 503 and refused[0].headers == {"Retry-After": "1"}
    await batcher.close()


async def test_a_failing_forward_fails_every_caller_of_its_batch(executor):
    def broken(ids, mask):
        raise RuntimeError("CUDA out of memory")

    batcher = AdaptiveBatcher(broken, executor, max_batch_size=8, max_wait_ms=20)
    results = await asyncio.gather(*(batcher.submit(*_request([[i]])) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    # ...and the batcher keeps serving afterwards.
    batcher._forward = RowSums()
    assert (await batcher.submit(*_request([[5]])))[0, 0] == 5
    await batcher.close()


async def test_batched_logits_and_embeddings_equal_unbatched_ones_with_the_real_model(model_dir):
    def load():
        return SequenceClassifier.load(model_dir, torch.device("cpu"), torch.float32)

    batched = ClassifierPredictor("spam-detector", load, ModelServerSettings(max_batch_wait_ms=50))
    batched.load()
    alone = load()
    rng = np.random.default_rng(0)
    requests = []
    for _ in range(12):
        length = int(rng.integers(3, 30))
        ids = np.concatenate([[1], rng.integers(5, 500, size=length), [2]])[None, :]
        requests.append((ids, np.ones_like(ids)))
    results = await asyncio.gather(*(batched.batcher.submit(ids, mask) for ids, mask in requests))
    for (ids, mask), (logits, embedding) in zip(requests, results, strict=True):
        expected_logits, expected_embedding = alone.infer(ids, mask)
        np.testing.assert_allclose(logits, expected_logits, atol=1e-4)
        np.testing.assert_allclose(embedding, expected_embedding, atol=1e-4)
        assert embedding.shape == (1, EMBEDDING_DIM)
    await batched.batcher.close()


def test_length_buckets_split_only_when_padding_would_waste_much():
    assert length_buckets([20, 22, 25, 30], [1, 1, 1, 1]) == [[0, 1, 2, 3]]  # similar lengths: one pass
    assert length_buckets([10, 400, 12, 11], [4, 1, 2, 1]) == [[0, 2, 3], [1]]  # one long text apart
    assert length_buckets([7], [3]) == [[0]]


async def test_a_long_request_runs_apart_and_every_caller_still_gets_its_own_rows(executor):
    forward = RowSums()
    batcher = AdaptiveBatcher(forward, executor, max_batch_size=64, max_wait_ms=50)
    requests = [_request([[i + 1] * 5]) for i in range(6)] + [_request([[9] * 300])]
    results = await asyncio.gather(*(batcher.submit(ids, mask) for ids, mask in requests))
    assert sorted(forward.batches) == [(1, 300), (6, 5)]  # two passes: 6 short rows, then the long one
    for i, logits in enumerate(results[:6]):
        assert logits.tolist() == [[5.0 * (i + 1), 5.0]]
    assert results[6].tolist() == [[2700.0, 300.0]]
    await batcher.close()


async def test_a_dead_worker_fails_its_callers_at_once_and_is_restarted(executor):
    forward = RowSums()
    batcher = AdaptiveBatcher(forward, executor, max_batch_size=8, max_wait_ms=50)
    real_execute = batcher._execute

    async def broken_execute(batch):
        raise RuntimeError("a bug in the batcher itself")

    batcher._execute = broken_execute
    started = time.perf_counter()
    results = await asyncio.gather(*(batcher.submit(*_request([[i, 1]])) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, BatcherFailed) for r in results), results
    assert time.perf_counter() - started < 2  # failed at once, not left to a caller's timeout
    assert batcher._queued_rows == 0

    batcher._execute = real_execute
    out = await batcher.submit(*_request([[5, 6]]))
    assert out[0].tolist() == [11, 2]  # a new worker serves the next request
    await batcher.close()


async def test_an_idle_model_starts_at_once_and_the_next_batch_fills_during_the_pass(executor):
    forward = RowSums(delay=0.2)
    batcher = AdaptiveBatcher(forward, executor, max_batch_size=64, max_wait_ms=2000, start_when_idle=True)
    started = time.perf_counter()
    first = asyncio.ensure_future(batcher.submit(*_request([[1]])))
    await asyncio.sleep(0.05)  # the first pass is running now
    rest = await asyncio.gather(*(batcher.submit(*_request([[i]])) for i in range(2, 7)))
    await first
    assert time.perf_counter() - started < 1.0  # nobody waited the 2 s max_wait
    assert [rows for rows, _ in forward.batches] == [1, 5]  # the five that came during the pass went together
    assert [r[0, 0] for r in rest] == [2, 3, 4, 5, 6]
    await batcher.close()


async def test_a_token_budget_bounds_padded_tokens_per_pass(executor):
    forward = RowSums()
    batcher = AdaptiveBatcher(forward, executor, max_batch_size=64, max_wait_ms=50, max_batch_tokens=32)
    short = [_request([[i] * 4]) for i in range(6)]  # 6 rows of 4 tokens: 24 padded tokens together
    long_ = _request([[9] * 16])  # joining them would pad 7 rows to 16 tokens: 112 > 32
    results = await asyncio.gather(*(batcher.submit(ids, mask) for ids, mask in [*short, long_]))
    assert max(rows * width for rows, width in forward.batches) <= 32
    assert forward.batches == [(6, 4), (1, 16)]
    assert results[-1][0].tolist() == [9 * 16, 16]
    await batcher.close()


class FakeDevice:
    """A device with one stream, for the pipelined batcher: ``launch`` stages a batch (host work, on the
    batcher's forward thread) and queues its pass on the device's own thread; ``collect`` waits for the
    pass. It records when each pass was launched, run and collected, so a test can read the overlap."""

    def __init__(self, stage_s: float = 0.0, compute_s: float = 0.05, fail_pass: int | None = None):
        self.stage_s, self.compute_s, self.fail_pass = stage_s, compute_s, fail_pass
        self.stream = ThreadPoolExecutor(max_workers=1)
        self.events: list[tuple[str, int]] = []
        self.launched = 0
        self.most_in_flight = 0
        self._in_flight = 0

    def launch(self, ids: np.ndarray, mask: np.ndarray):
        index = self.launched
        self.launched += 1
        self._in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self._in_flight)
        self.events.append(("launch", index))
        time.sleep(self.stage_s)
        return index, self.stream.submit(self._compute, index, ids.copy(), mask.copy())

    def _compute(self, index: int, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        time.sleep(self.compute_s)
        if index == self.fail_pass:
            raise RuntimeError(f"pass {index} failed on the device")
        return RowSums()(ids, mask)

    def collect(self, launched) -> np.ndarray:
        index, pending = launched
        try:
            return pending.result()
        finally:
            self._in_flight -= 1
            self.events.append(("collected", index))


@pytest.fixture
def collector():
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


def _pipelined(device: FakeDevice, executor, collector, depth: int) -> AdaptiveBatcher:
    """Passes of at most two rows, each started as soon as a pipeline slot is free."""
    return AdaptiveBatcher(
        device.launch,
        executor,
        collect=device.collect,
        collect_executor=collector,
        pipeline_depth=depth,
        max_batch_size=2,
        max_wait_ms=0,
        start_when_idle=True,
    )


async def _passes_of_two(batcher: AdaptiveBatcher, requests: int) -> list:
    return await asyncio.gather(*(batcher.submit(*_request([[i, i]])) for i in range(requests)), return_exceptions=True)


async def test_pipelined_passes_launch_the_next_batch_before_the_last_is_collected(executor, collector):
    device = FakeDevice(compute_s=0.05)
    batcher = _pipelined(device, executor, collector, depth=2)
    results = await _passes_of_two(batcher, 8)
    for i, logits in enumerate(results):  # every caller its own row, in a pipelined world too
        assert logits.tolist() == [[2.0 * i, 2.0]]
    passes = device.launched
    assert passes >= 4
    order = {event: n for n, event in enumerate(device.events)}
    for k in range(1, passes):  # pass k was staged while pass k-1 was still on the device...
        assert order[("launch", k)] < order[("collected", k - 1)], device.events
    assert device.most_in_flight == 2  # ...and never more than two passes at once
    assert batcher._in_flight == 0
    await batcher.close()


async def test_a_pipeline_of_depth_one_runs_a_pass_at_a_time(executor, collector):
    device = FakeDevice(compute_s=0.02)
    batcher = _pipelined(device, executor, collector, depth=1)
    await _passes_of_two(batcher, 6)
    order = {event: n for n, event in enumerate(device.events)}
    for k in range(1, device.launched):
        assert order[("collected", k - 1)] < order[("launch", k)], device.events
    assert device.most_in_flight == 1
    await batcher.close()


async def test_a_failed_pipelined_pass_fails_only_its_callers_and_frees_its_slot(executor, collector):
    device = FakeDevice(compute_s=0.02, fail_pass=1)
    batcher = _pipelined(device, executor, collector, depth=2)
    first = asyncio.ensure_future(batcher.submit(*_request([[1]])))
    await asyncio.sleep(0.005)  # pass 0 holds request 0 alone; the next two make pass 1, which fails
    failed = await _passes_of_two(batcher, 2)
    assert (await first).tolist() == [[1.0, 1.0]]
    assert all(isinstance(r, RuntimeError) and "pass 1" in str(r) for r in failed), failed
    # The failed pass gave its slot back: the batcher keeps serving, pipelined.
    again = await _passes_of_two(batcher, 4)
    assert [r.tolist() for r in again] == [[[2.0 * i, 2.0]] for i in range(4)]
    assert batcher._in_flight == 0
    await batcher.close()


def test_a_pipelined_batcher_needs_a_collector_thread(executor):
    device = FakeDevice()
    with pytest.raises(ValueError, match="executor of their own"):
        AdaptiveBatcher(device.launch, executor, collect=device.collect)
    with pytest.raises(ValueError, match="pipeline_depth"):
        AdaptiveBatcher(RowSums(), executor, pipeline_depth=0)
