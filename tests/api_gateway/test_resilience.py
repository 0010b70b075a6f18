"""Circuit breaker and retry budget, on a controlled clock; and the breaker in the gateway against a
closed port (a dead InferenceService)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api_gateway import resilience
from api_gateway.core.config import GatewaySettings
from api_gateway.main import create_app
from api_gateway.resilience import BreakerState, CircuitBreaker, RetryBudget, backoff_seconds
from devstack.process import free_port


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(resilience.time, "monotonic", clock)
    return clock


def test_breaker_opens_after_consecutive_failures_and_probes_once_after_the_cool_down(clock):
    breaker = CircuitBreaker(failure_threshold=3, reset_after=5)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    breaker.record_success()  # a success resets the count
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow() and breaker.retry_after() == 5
    clock.now += 5
    assert breaker.allow()  # the one probe
    assert not breaker.allow()  # concurrent calls still fail fast
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 5
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


def test_retry_budget_caps_retries_to_a_share_of_requests(clock):
    budget = RetryBudget(ratio=0.1, window=10, minimum=2)
    for _ in range(50):
        budget.record_request()
    spent = sum(budget.try_spend() for _ in range(20))
    assert spent == 7  # 2 + 10% of 50
    clock.now += 11
    assert budget.try_spend()  # the window moved on


def test_backoff_is_jittered_and_capped():
    values = {round(backoff_seconds(3), 6) for _ in range(50)}
    assert len(values) > 10 and max(values) <= 0.4
    assert all(0 <= backoff_seconds(20) <= 1.0 for _ in range(20))


def test_gateway_fails_fast_once_the_circuit_is_open():
    settings = GatewaySettings(
        staging_url=f"http://127.0.0.1:{free_port()}",
        production_url=f"http://127.0.0.1:{free_port()}",
        breaker_failure_threshold=3,
        breaker_reset_seconds=30,
        upstream_retries=1,
    )
    with TestClient(create_app(settings)) as client:
        messages = [
            client.post("/api/v1/predict", json={"email_content": "hi"}).json()["error"]["message"] for _ in range(3)
        ]
        assert all("unreachable" in m for m in messages)
        refused = client.post("/api/v1/predict", json={"email_content": "hi"})
        assert refused.status_code == 503 and "circuit is open" in refused.json()["error"]["message"]
        assert 1 <= int(refused.headers["retry-after"]) <= 30
        # One environment's open circuit never touches the other: production is tried, not short-circuited.
        other = client.post("/api/v1/predict", json={"email_content": "hi"}, headers={"X-Environment": "production"})
        assert "unreachable" in other.json()["error"]["message"]
        assert "gateway_upstream_retries_total" in client.get("/metrics").text


def test_retry_budget_memory_is_fixed_however_many_requests_pass(clock):
    budget = RetryBudget(ratio=0.1, window=10, minimum=2)
    for _ in range(100_000):  # a healthy gateway: requests, never a retry
        budget.record_request()
        clock.now += 0.001
    assert len(budget._requests) == len(budget._retries) == budget.slots == 10
    # The counts still describe the last window only: 10 s of the 100 s just seen, 10,000 requests.
    assert sum(budget.try_spend() for _ in range(2000)) == 2 + 1000


def test_retry_budget_forgets_slots_older_than_the_window(clock):
    budget = RetryBudget(ratio=0.5, window=10, minimum=0)
    for _ in range(10):
        budget.record_request()
    clock.now += 5
    assert sum(budget.try_spend() for _ in range(10)) == 5  # half of the 10 requests, 5 s ago
    clock.now += 5.5  # the requests' slot has left the window; the retries' slot has not
    assert not budget.try_spend()
    clock.now += 10
    budget.record_request()
    budget.record_request()
    assert budget.try_spend() and not budget.try_spend()  # half of the 2 requests now in the window
