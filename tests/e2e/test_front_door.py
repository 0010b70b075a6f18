"""The front door under abuse, against a real gateway in front of the real KServe pairs: oversized,
chunked, stalled and dripping bodies, oversized heads, idle connections; and the same body bounds on
the KServe transformer and predictor for direct callers inside the cluster.

Every load here is bounded in count and time and goes to loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e import rawhttp
from tests.e2e.conftest import extra_gateway

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MIB = 1024 * 1024
BODY_TIMEOUT = 4.0
HEADER_TIMEOUT = 2.0
MAX_IN_FLIGHT = 64
PREDICT = "/api/v1/predict"
EMAIL = {"email_content": "Are we still on for lunch tomorrow at noon?"}


@pytest.fixture(scope="module")
def front_door(stack, tmp_path_factory):
    """A gateway of its own with short body and head deadlines and a small in-flight bound (so 600
    stalled uploads would exhaust it many times over if they counted), other limits at their defaults."""
    with extra_gateway(
        "front-door-gateway",
        tmp_path_factory.mktemp("front-door"),
        stack.transformer_url("staging"),
        stack.transformer_url("production"),
        body_timeout_seconds=str(BODY_TIMEOUT),
        header_timeout_seconds=str(HEADER_TIMEOUT),
        max_in_flight=str(MAX_IN_FLIGHT),
    ) as gateway:
        yield gateway


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


async def _watch(url: str, pid: int, stop: asyncio.Event) -> tuple[list[float], float]:
    """/health latencies every 100 ms and the highest RSS seen, until ``stop``."""
    latencies, peak = [], _rss_mib(pid)
    async with httpx.AsyncClient(timeout=5) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                ok = (await client.get(f"{url}/health")).status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started if ok else float("inf"))
            peak = max(peak, _rss_mib(pid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
    return latencies, peak


def test_four_concurrent_200_mb_bodies_are_refused_early(front_door):
    gateway, url = front_door

    async def scenario():
        httpx.post(f"{url}{PREDICT}", json=EMAIL, timeout=30)  # warm: the baseline includes a served request
        before = _rss_mib(gateway.proc.pid)
        stop = asyncio.Event()
        watcher = asyncio.create_task(_watch(url, gateway.proc.pid, stop))
        uploads = [
            rawhttp.send_big_body(url, PREDICT, 200 * MIB, chunked=chunked, deadline=60)
            for chunked in (False, False, True, True)
        ]
        answers = await asyncio.gather(*uploads)
        stop.set()
        latencies, peak = await watcher
        return before, answers, latencies, peak

    before, answers, latencies, peak = asyncio.run(scenario())
    print("sent before the refusal (MiB):", [round(a.sent_bytes / MIB, 1) for a in answers])
    for answer in answers:
        assert answer.status == 413, answer
        assert answer.body["error"]["code"] == "payload_too_large"
        assert answer.body["error"]["details"]["max_body_bytes"] == 10 * MIB
        assert answer.headers["connection"] == "close"
        # Early: far less than the 200 MB the client meant to send (the limit plus socket buffers).
        assert answer.sent_bytes < 40 * MIB, answer.sent_bytes
    assert peak - before < 300, f"gateway RSS grew {peak - before:.0f} MiB"
    assert latencies and max(latencies) < 1.0, f"/health took up to {max(latencies):.2f} s"


def test_declared_oversize_is_refused_before_any_body_byte(front_door):
    _, url = front_door
    data = rawhttp.head(PREDICT, {"Content-Type": "application/json", "Content-Length": str(200 * MIB)})
    answer = asyncio.run(rawhttp.send_raw(url, data))
    assert answer.status == 413 and answer.body["error"]["code"] == "payload_too_large"
    assert answer.body["request_id"]  # the one error shape, with the id


def test_600_stalled_uploads_leave_normal_predictions_answered(front_door):
    _, url = front_door

    async def scenario():
        stalled = []
        try:
            for _ in range(600):
                _, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
                writer.write(rawhttp.head(PREDICT, {"Content-Type": "application/json", "Content-Length": "4096"}))
                writer.write(b'{"email_content": "stal')
                stalled.append(writer)
            await asyncio.gather(*(w.drain() for w in stalled))
            await asyncio.sleep(0.2)  # every stalled upload is waiting on its body now
            started = time.perf_counter()
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(f"{url}{PREDICT}", json=EMAIL)
            return response, time.perf_counter() - started
        finally:
            for writer in stalled:
                writer.close()

    response, seconds = asyncio.run(scenario())
    assert response.status_code == 200, response.text
    assert seconds < 3.0, f"answered in {seconds:.2f} s"


def test_a_slow_drip_body_is_cut_off_at_the_body_timeout(front_door):
    _, url = front_door
    answer = asyncio.run(rawhttp.drip_body(url, PREDICT, declared=1000, every=0.25, deadline=BODY_TIMEOUT + 5))
    assert answer.status == 408, answer
    assert answer.body["error"]["code"] == "request_timeout"
    assert BODY_TIMEOUT - 0.5 <= answer.seconds <= BODY_TIMEOUT + 2.5
    assert answer.sent_bytes < 1000


def test_too_many_or_too_large_headers_get_431(front_door):
    _, url = front_door
    many = rawhttp.head("/health", {f"X-Filler-{i}": "1" for i in range(150)}, method="GET")
    large = rawhttp.head("/health", {"X-Filler": "a" * 20_000}, method="GET")
    for data in (many, large):
        answer = asyncio.run(rawhttp.send_raw(url, data))
        assert answer.status == 431, answer
        assert answer.body["error"]["code"] == "headers_too_large"
    # Within the limits the same request is served.
    ok = rawhttp.head("/health", {f"X-Filler-{i}": "1" for i in range(20)}, method="GET")
    assert asyncio.run(rawhttp.send_raw(url, ok)).status == 200


def test_a_connection_that_never_sends_a_request_is_closed(front_door):
    _, url = front_door
    for prefix in (b"", b"POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"):
        closed_after = asyncio.run(rawhttp.closed_within(url, HEADER_TIMEOUT + 3, prefix))
        assert closed_after is not None and closed_after >= HEADER_TIMEOUT - 0.5


def test_kserve_components_refuse_oversized_bodies_too(stack):
    """Direct callers inside the cluster: the transformer's and predictor's own body limit (64 MiB)."""
    declared = rawhttp.head(
        "/v1/models/spam-detector:predict", {"Content-Type": "application/json", "Content-Length": str(200 * MIB)}
    )
    for base in (stack.transformer_url("staging"), stack.predictor_url("staging")):
        answer = asyncio.run(rawhttp.send_raw(base, declared))
        assert answer.status == 413, (base, answer)
        assert answer.body["error"]["code"] == "payload_too_large"
        assert answer.body["error"]["details"]["max_body_bytes"] == 64 * MIB
    chunked = asyncio.run(
        rawhttp.send_big_body(
            stack.transformer_url("production"), "/v1/models/spam-detector:predict", 200 * MIB, chunked=True
        )
    )
    assert chunked.status == 413 and chunked.sent_bytes < 100 * MIB


def test_kserve_components_cut_off_a_dripping_body(stack):
    """The e2e stack runs its KServe components with a 3 s body timeout (see conftest)."""
    for base in (stack.transformer_url("staging"), stack.predictor_url("production")):
        answer = asyncio.run(rawhttp.drip_body(base, "/v2/models/spam-detector/infer", 1000, 0.25, deadline=8))
        assert answer.status == 408, (base, answer)
        assert answer.body["error"]["code"] == "request_timeout"


def test_kserve_components_refuse_a_compressed_body(stack):
    body = gzip.compress(b'{"instances": [{"text": "hello"}]}')
    for base in (stack.transformer_url("staging"), stack.predictor_url("staging")):
        answer = httpx.post(
            f"{base}/v1/models/spam-detector:predict",
            content=body,
            headers={"content-type": "application/json", "content-encoding": "gzip", "x-request-id": "gz-1"},
        )
        assert answer.status_code == 415, (base, answer.text)
        assert answer.headers["accept-encoding"] == "identity"
        assert answer.json()["error"]["code"] == "unsupported_content_encoding"
        assert answer.json()["request_id"] == "gz-1"
