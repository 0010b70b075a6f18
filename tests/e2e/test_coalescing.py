"""Coalescing at the gateway, with the real stack: concurrent callers share upstream calls, and each
still gets exactly its own verdicts, its own request id in the inference log, the same typed error
when the shared call fails, and its own deadline."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest

from devstack.process import free_port
from serving_common.inference_log.reader import InferenceLogReader
from tests.e2e import rawhttp
from tests.e2e.conftest import extra_gateway
from tests.e2e.test_inference_log import _rows_for

pytestmark = pytest.mark.e2e

CONCURRENT = 48
SPAMMY = "WINNER!! You have won a FREE prize of {n} pounds. Call 0906170{n:04d} to claim now"
HAMMY = "Hi, are we still meeting at {n} o'clock for lunch? Let me know, thanks"


def _texts(n: int) -> list[str]:
    return [(SPAMMY if i % 2 else HAMMY).format(n=i) for i in range(n)]


def _histogram(metrics_text: str, name: str, env: str) -> tuple[float, float]:
    """(count, sum) of a gateway histogram for one environment, summed over models."""
    count = total = 0.0
    for line in metrics_text.splitlines():
        if f'environment="{env}"' not in line:
            continue
        if line.startswith(f"{name}_count{{"):
            count += float(line.rsplit(" ", 1)[1])
        elif line.startswith(f"{name}_sum{{"):
            total += float(line.rsplit(" ", 1)[1])
    return count, total


def _concurrently(url: str, bodies: list[dict], headers: list[dict]) -> list[rawhttp.RawAnswer]:
    """Every request at once, as concurrent callers' requests reach a loaded gateway."""
    encoded = [json.dumps(b).encode() for b in bodies]
    return asyncio.run(rawhttp.burst(url, "/api/v1/predict", encoded, headers))


def test_concurrent_callers_share_calls_and_each_gets_its_own_verdict(stack, api):
    env = "production"
    texts = _texts(CONCURRENT)
    # The reference: each text alone, one after the other (nothing to merge with).
    alone = [
        api.post("/api/v1/predict", json={"email_content": t}, headers={"X-Environment": env}).json() for t in texts
    ]
    before = httpx.get(f"{stack.gateway_url}/metrics").text
    bodies = [{"email_content": t, "email_id": f"e-{i}"} for i, t in enumerate(texts)]
    responses = _concurrently(stack.gateway_url, bodies, [{"X-Environment": env}] * CONCURRENT)
    after = httpx.get(f"{stack.gateway_url}/metrics").text

    assert all(r.status == 200 for r in responses), [r.body for r in responses if r.status != 200]
    for i, (response, reference) in enumerate(zip(responses, alone, strict=True)):
        body = response.body
        assert body["email_id"] == f"e-{i}"
        assert body["prediction"] == reference["prediction"]
        assert body["spam_probability"] == pytest.approx(reference["spam_probability"], abs=1e-4)
        assert body["request_id"] == response.headers["x-request-id"]
    # Spam and ham texts were told apart, so no caller got a neighbour's verdict.
    assert {r.body["prediction"] for r in responses} == {"spam", "ham"}

    calls_before, rows_before = _histogram(before, "gateway_coalesced_rows", env)
    calls_after, rows_after = _histogram(after, "gateway_coalesced_rows", env)
    calls, rows = calls_after - calls_before, rows_after - rows_before
    assert rows == CONCURRENT
    assert calls < CONCURRENT / 2, f"{CONCURRENT} requests took {calls:.0f} upstream calls"


def test_per_row_request_ids_reach_the_inference_log(stack, inference_log_dir):
    ids = [f"row-{uuid.uuid4().hex[:12]}" for _ in range(16)]
    bodies = [{"email_content": t} for t in _texts(len(ids))]
    headers = [{"X-Request-ID": rid, "X-Environment": "staging"} for rid in ids]
    responses = _concurrently(stack.gateway_url, bodies, headers)
    assert [r.headers["x-request-id"] for r in responses] == ids
    reader = InferenceLogReader(str(inference_log_dir))
    for rid, response in zip(ids, responses, strict=True):
        rows = _rows_for(reader, "staging", "spam-detector", rid, 1)
        assert len(rows) == 1, rid
        assert rows[0]["probability"] == pytest.approx(response.body["spam_probability"], abs=1e-6)


@pytest.fixture(scope="module")
def dead_upstream_gateway(tmp_path_factory):
    """A gateway whose InferenceServices refuse every connection (nothing listens there). Every failure
    is a real call here, never the open circuit's fast refusal."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    with extra_gateway(
        "coalescing-dead-upstream",
        tmp_path_factory.mktemp("coalescing"),
        nowhere,
        nowhere,
        breaker_failure_threshold="100000",
    ) as (_, url):
        yield url


def test_a_failed_shared_call_reaches_every_caller(dead_upstream_gateway):
    url = dead_upstream_gateway
    bodies = [{"email_content": t} for t in _texts(24)]
    before = httpx.get(f"{url}/metrics").text
    started = time.monotonic()
    responses = _concurrently(url, bodies, [{}] * len(bodies))
    elapsed = time.monotonic() - started
    after = httpx.get(f"{url}/metrics").text
    for response in responses:
        assert response.status == 503, response.body
        error = response.body["error"]
        assert error["code"] == "upstream_unavailable" and error["details"]["environment"] == "staging"
        assert response.headers["retry-after"]
    assert elapsed < 10
    calls = _histogram(after, "gateway_coalesced_requests", "staging")[0]
    calls -= _histogram(before, "gateway_coalesced_requests", "staging")[0]
    assert calls < len(bodies), "the failing calls were shared by several callers"
