"""Failing upstreams: a circuit breaker per InferenceService and a retry budget.

Retries happen only where the request cannot have been processed (the connection was refused, or the
service answered 503 before processing), with jittered exponential backoff, and only while the retry
budget (a share of recent requests) allows, so retries cannot multiply load on a struggling service.
There is never a fallback to another environment.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; after ``reset_after`` seconds lets one
    probe through (half-open); a success closes it, a failure opens it again."""

    failure_threshold: int = 5
    reset_after: float = 5.0
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False

    def allow(self) -> bool:
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN and time.monotonic() - self.opened_at >= self.reset_after:
            self.state = BreakerState.HALF_OPEN
            self.probing = False
        if self.state is BreakerState.HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def retry_after(self) -> int:
        return max(1, int(self.reset_after - (time.monotonic() - self.opened_at) + 0.999))

    def record_success(self) -> None:
        self.state, self.failures, self.probing = BreakerState.CLOSED, 0, False

    def record_failure(self) -> None:
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.failure_threshold:
            self.state, self.opened_at, self.probing = BreakerState.OPEN, time.monotonic(), False


@dataclass
class RetryBudget:
    """Retries may add at most ``ratio`` of the requests seen in the last ``window`` seconds (plus a floor).

    Counted in ``slots`` time slots of ``window / slots`` seconds each, a ring that a slot's first event
    resets: memory is fixed whatever the traffic (a list of timestamps per request grew without bound on
    a healthy gateway, which never retries and so never trimmed it), and every call is O(slots)."""

    ratio: float = 0.1
    window: float = 10.0
    minimum: int = 3
    slots: int = 10
    _ticks: list[int] = field(default_factory=list)
    _requests: list[int] = field(default_factory=list)
    _retries: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ticks, self._requests, self._retries = [-1] * self.slots, [0] * self.slots, [0] * self.slots

    def _tick(self, now: float) -> int:
        return int(now * self.slots / self.window)

    def _slot(self, tick: int) -> int:
        slot = tick % self.slots
        if self._ticks[slot] != tick:  # the slot last counted a window ago or more: start it afresh
            self._ticks[slot], self._requests[slot], self._retries[slot] = tick, 0, 0
        return slot

    def _recent(self, counts: list[int], tick: int) -> int:
        return sum(n for n, t in zip(counts, self._ticks, strict=True) if tick - self.slots < t <= tick)

    def record_request(self) -> None:
        self._requests[self._slot(self._tick(time.monotonic()))] += 1

    def try_spend(self) -> bool:
        tick = self._tick(time.monotonic())
        slot = self._slot(tick)
        if self._recent(self._retries, tick) >= self.minimum + self.ratio * self._recent(self._requests, tick):
            return False
        self._retries[slot] += 1
        return True


def backoff_seconds(attempt: int, base: float = 0.05, cap: float = 1.0) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * 2**attempt))
