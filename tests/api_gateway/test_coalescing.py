"""The coalescer against a fake client, as the model server's batcher is tested: what is merged, what is
never split, who gets which rows, and how failures and deadlines reach each caller. (The end-to-end
behaviour through real processes is tests/e2e/test_coalescing.py.)"""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from api_gateway.coalescing import Coalescer
from api_gateway.core.errors import UpstreamFailed, UpstreamTimeout
from serving_common.errors import PlatformError
from serving_common.schemas import SpamOutput, SpamResponse, TransformerInstance


class FakeClient:
    """Answers each row with its own text as the label, once ``gate`` opens; records every call."""

    environment = "staging"
    model_name = "spam-detector"
    max_length = 128

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str]] = []
        self.row_ids: list[list[str | None]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_with: PlatformError | None = None
        self.in_flight = self.most_in_flight = 0

    async def predict(self, instances, request_id, response_model):
        self.calls.append(([i.text for i in instances], request_id))
        self.row_ids.append([i.request_id for i in instances])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.wait()
            if self.fail_with is not None:
                raise self.fail_with
            outputs = [
                SpamOutput(label=i.text, spam_probability=0.5, confidence="low", truncated=False, features={})
                for i in instances
            ]
            return response_model(predictions=outputs, model_name=self.model_name, model_version="v1")
        finally:
            self.in_flight -= 1

    def error(self, cls, what, **details):
        return cls(f"the staging spam-detector service {what}", details=details)


@pytest_asyncio.fixture(loop_scope="function")
async def made():
    """Coalescers made by a test, closed after it (their dispatcher tasks cancelled and awaited)."""
    coalescers: list[Coalescer] = []

    def make(client, **options) -> Coalescer:
        coalescers.append(Coalescer(client, **options))
        return coalescers[-1]

    yield make
    for coalescer in coalescers:
        await coalescer.aclose()


def _rows(*texts: str) -> list[TransformerInstance]:
    return [TransformerInstance(text=t) for t in texts]


async def _until(condition, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


def _labels(response: SpamResponse) -> list[str]:
    return [p.label for p in response.predictions]


async def test_a_lone_request_is_sent_at_once_under_its_own_id(made):
    client = FakeClient()
    coalescer = made(client, max_wait_ms=1000)
    answer = await asyncio.wait_for(coalescer.predict(_rows("a", "b"), "r-1", SpamResponse), 0.5)
    assert _labels(answer) == ["a", "b"]
    assert client.calls == [(["a", "b"], "r-1")] and client.row_ids == [["r-1", "r-1"]]


async def test_requests_arriving_during_a_call_share_the_next_one_and_each_gets_its_own_rows(made):
    client = FakeClient()
    client.gate.clear()
    coalescer = made(client, max_rows=32, max_wait_ms=1000, max_calls=1)
    first = asyncio.create_task(coalescer.predict(_rows("first"), "r-0", SpamResponse))
    await _until(lambda: len(client.calls) == 1)
    waiting = [
        asyncio.create_task(coalescer.predict(_rows(f"{i}a", f"{i}b"), f"r-{i}", SpamResponse)) for i in (1, 2, 3)
    ]
    await asyncio.sleep(0.01)
    client.gate.set()
    answers = await asyncio.gather(first, *waiting)
    assert [_labels(a) for a in answers] == [["first"], ["1a", "1b"], ["2a", "2b"], ["3a", "3b"]]
    assert len(client.calls) == 2  # the lone first call, then one for the three that queued behind it
    texts, call_id = client.calls[1]
    assert texts == ["1a", "1b", "2a", "2b", "3a", "3b"] and call_id.startswith("coalesced-")
    assert client.row_ids[1] == ["r-1", "r-1", "r-2", "r-2", "r-3", "r-3"]  # each row keeps its caller's id


async def test_a_call_closes_at_max_rows_and_a_request_is_never_split(made):
    client = FakeClient()
    client.gate.clear()
    coalescer = made(client, max_rows=4, max_wait_ms=1000, max_calls=4)
    blocker = asyncio.create_task(coalescer.predict(_rows("x"), "r-x", SpamResponse))
    await _until(lambda: len(client.calls) == 1)
    tasks = [
        asyncio.create_task(coalescer.predict(_rows(*[f"{n}{i}" for i in range(size)]), f"r-{n}", SpamResponse))
        for n, size in (("a", 3), ("b", 3), ("c", 6))
    ]
    await _until(lambda: len(client.calls) == 4)  # a alone (b would pass 4 rows), b alone, c (over 4) alone
    client.gate.set()
    answers = await asyncio.gather(blocker, *tasks)
    assert [len(a.predictions) for a in answers] == [1, 3, 3, 6]
    assert sorted(len(texts) for texts, _ in client.calls[1:]) == [3, 3, 6]


async def test_no_more_than_max_calls_are_in_flight(made):
    client = FakeClient()
    client.gate.clear()
    coalescer = made(client, max_rows=1, max_wait_ms=0, max_calls=2)
    tasks = [asyncio.create_task(coalescer.predict(_rows(str(i)), f"r-{i}", SpamResponse)) for i in range(8)]
    await asyncio.sleep(0.05)
    assert client.in_flight <= 2
    client.gate.set()
    answers = await asyncio.gather(*tasks)
    assert [_labels(a) for a in answers] == [[str(i)] for i in range(8)]
    assert client.most_in_flight == 2


async def test_a_failed_call_fails_every_caller_in_it_with_the_same_error(made):
    client = FakeClient()
    client.gate.clear()
    coalescer = made(client, max_wait_ms=1000, max_calls=1)
    first = asyncio.create_task(coalescer.predict(_rows("first"), "r-0", SpamResponse))
    await _until(lambda: len(client.calls) == 1)
    queued = [asyncio.create_task(coalescer.predict(_rows(str(i)), f"r-{i}", SpamResponse)) for i in range(3)]
    await asyncio.sleep(0.01)
    client.fail_with = UpstreamFailed("the staging spam-detector service answered HTTP 500")
    client.gate.set()
    results = await asyncio.gather(first, *queued, return_exceptions=True)
    assert all(r is client.fail_with for r in results)


async def test_a_caller_past_its_deadline_leaves_alone(made):
    client = FakeClient()
    client.gate.clear()
    coalescer = made(client, max_wait_ms=1000, max_calls=1, timeout_seconds=0.1)
    first = asyncio.create_task(coalescer.predict(_rows("first"), "r-0", SpamResponse))
    await _until(lambda: len(client.calls) == 1)
    late = asyncio.create_task(coalescer.predict(_rows("late"), "r-1", SpamResponse))
    with pytest.raises(UpstreamTimeout):
        await late  # queued behind a call that does not finish within its 0.1 s
    client.gate.set()
    assert _labels(await first) == ["first"]  # the lone call itself is the client's to time out
    assert all("late" not in texts for texts, _ in client.calls)  # it left the queue: never sent


async def test_off_every_request_goes_alone(made):
    client = FakeClient()
    client.gate.clear()
    coalescer = made(client, enabled=False)
    tasks = [asyncio.create_task(coalescer.predict(_rows(str(i)), f"r-{i}", SpamResponse)) for i in range(3)]
    await _until(lambda: len(client.calls) == 3)
    client.gate.set()
    await asyncio.gather(*tasks)
    assert sorted(call_id for _, call_id in client.calls) == ["r-0", "r-1", "r-2"]
