"""Failures with the real processes: a model-server killed under load, and SIGTERM to the gateway
during load. The killed process is started again, so the shared stack is whole afterwards."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time

import httpx
import pytest

from devstack.process import ManagedProcess, free_port
from tests.e2e.conftest import extra_gateway, extra_pair

pytestmark = pytest.mark.e2e

UPSTREAM_TIMEOUT = 10.0  # the gateway's default GATEWAY_UPSTREAM_TIMEOUT_SECONDS


def test_killed_model_server_gets_fast_503s_and_service_resumes(stack):
    results: list[tuple[float, int]] = []
    stop = threading.Event()

    def load():
        with httpx.Client(base_url=stack.gateway_url, timeout=UPSTREAM_TIMEOUT + 5) as client:
            while not stop.is_set():
                started = time.monotonic()
                response = client.post("/api/v1/predict", json={"email_content": "Are we meeting today?"})
                results.append((time.monotonic() - started, response.status_code))

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    predictor = stack.processes["staging-predictor"]
    try:
        time.sleep(1.0)
        predictor.proc.kill()  # SIGKILL: no graceful anything
        predictor.proc.wait(10)
        time.sleep(3.0)
    finally:
        stop.set()
        for w in workers:
            w.join(30)
    statuses = {status for _, status in results}
    assert statuses <= {200, 503}, statuses
    assert 503 in statuses and 200 in statuses
    assert max(latency for latency, _ in results) < UPSTREAM_TIMEOUT  # never hangs

    predictor.start()
    predictor.wait_ready(120)
    deadline = time.monotonic() + 30  # the circuit probes again after GATEWAY_BREAKER_RESET_SECONDS (5 s)
    with httpx.Client(base_url=stack.gateway_url, timeout=15) as client:
        while time.monotonic() < deadline:
            if client.post("/api/v1/predict", json={"email_content": "back?"}).status_code == 200:
                break
            time.sleep(0.5)
        else:
            pytest.fail("the gateway did not serve again after the model-server came back")


def test_sigterm_during_load_answers_every_accepted_request(stack, tmp_path):
    port = free_port()
    gateway = ManagedProcess(
        "gateway-sigterm",
        [sys.executable, "-m", "api_gateway"],
        log_dir=tmp_path,
        echo=False,
        env={
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(port),
            "GATEWAY_STAGING_URL": stack.transformer_url("staging"),
            "GATEWAY_PRODUCTION_URL": stack.transformer_url("production"),
        },
        ready_url=f"http://127.0.0.1:{port}/health",
    )
    gateway.start()
    gateway.wait_ready(60)
    answered: list[tuple[float, int]] = []
    not_accepted: list[str] = []
    signalled_at: list[float] = []

    async def worker(client: httpx.AsyncClient):
        while not signalled_at or time.monotonic() - signalled_at[0] < 3:
            try:
                response = await client.post("/api/v1/predict", json={"email_content": "lunch at noon?"})
                answered.append((time.monotonic(), response.status_code))
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                not_accepted.append(type(exc).__name__)
                await asyncio.sleep(0.05)

    async def drive():
        # A fresh connection per request: each one is either accepted (and must be answered) or refused.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30, limits=limits) as client:
            tasks = [asyncio.create_task(worker(client)) for _ in range(8)]
            await asyncio.sleep(1.5)
            signalled_at.append(time.monotonic())
            gateway.proc.send_signal(signal.SIGTERM)
            await asyncio.gather(*tasks)

    asyncio.run(drive())
    code = gateway.stop(timeout=20)
    assert code in (0, -signal.SIGTERM)
    assert answered and all(status == 200 for _, status in answered), {s for _, s in answered}
    assert not_accepted  # after the signal, new connections are refused...
    assert any(t >= signalled_at[0] for t, _ in answered)  # ...while those in flight still got their answer


@pytest.fixture(scope="module")
def slow_path(model_dir, tmp_path_factory):
    """A real model-server made slow (with batch_when_idle off, a lone request waits 15 s for its batch to
    fill), its transformer, and a gateway whose upstream timeout is 2 s."""
    logs = tmp_path_factory.mktemp("slow")
    slow = ["--max_batch_size", "64", "--max_batch_wait_ms", "15000", "--batch_when_idle", "off"]
    with (
        extra_pair("slow", logs, model_dir, predictor_args=slow) as (predictor, transformer),
        extra_gateway("slow-gateway", logs, transformer.url, transformer.url, upstream_timeout_seconds="2") as (
            _,
            gateway,
        ),
    ):
        yield {"predictor": predictor, "predictor_url": predictor.url, "gateway": gateway}


def test_a_slow_model_server_gives_a_timeout_error_within_the_bound(slow_path):
    started = time.monotonic()
    response = httpx.post(f"{slow_path['gateway']}/api/v1/predict", json={"email_content": "hello?"}, timeout=30)
    elapsed = time.monotonic() - started
    assert response.status_code == 504 and response.json()["error"]["code"] == "upstream_timeout"
    assert elapsed < 2 + 1.5  # the configured 2 s, plus scheduling slack


def test_each_coalesced_caller_keeps_its_own_timeout(slow_path):
    """Twelve concurrent callers share upstream calls that never answer in time: each one still gets
    its 504 within its own bound (2 s plus slack), none waits for the others' calls."""

    async def drive():
        async with httpx.AsyncClient(base_url=slow_path["gateway"], timeout=30) as client:

            async def one(i: int) -> tuple[float, httpx.Response]:
                await asyncio.sleep(i * 0.05)  # staggered: later callers join calls already in flight
                started = time.monotonic()
                response = await client.post("/api/v1/predict", json={"email_content": f"hello {i}?"})
                return time.monotonic() - started, response

            return await asyncio.gather(*(one(i) for i in range(12)))

    for elapsed, response in asyncio.run(drive()):
        assert response.status_code == 504 and response.json()["error"]["code"] == "upstream_timeout"
        assert elapsed < 2 + 1.5


def test_sigterm_to_a_model_server_answers_the_requests_it_accepted(slow_path):
    """The slow model-server holds requests in its batching queue; SIGTERM must still answer them."""
    url = f"{slow_path['predictor_url']}/v2/models/spam-detector/infer"
    body = {
        "inputs": [
            {"name": "input_ids", "shape": [1, 4], "datatype": "INT64", "data": [1, 9, 10, 2]},
            {"name": "attention_mask", "shape": [1, 4], "datatype": "INT64", "data": [1, 1, 1, 1]},
        ]
    }

    async def drive():
        async with httpx.AsyncClient(timeout=40) as client:
            pending = [asyncio.create_task(client.post(url, json=body)) for _ in range(6)]
            await asyncio.sleep(1.5)  # all six are accepted and waiting for their batch
            slow_path["predictor"].proc.send_signal(signal.SIGTERM)
            return await asyncio.gather(*pending, return_exceptions=True)

    responses = asyncio.run(drive())
    assert all(isinstance(r, httpx.Response) and r.status_code == 200 for r in responses), responses
    assert all(len(r.json()["outputs"][0]["data"]) == 2 for r in responses)
