"""The soak's arithmetic: growth after warm-up in % and per request, and the slope that tells a leak from
allocator steps."""

from __future__ import annotations

import pytest

from devstack.bench.soak import Growth

MIB = 2**20


def test_a_steady_leak_shows_as_its_slope_and_flat_memory_as_none():
    served = [30_000 * i for i in range(1, 11)]
    leak = Growth.of(served, [100 * MIB + 64 * n for n in served])  # 64 bytes kept per request
    assert leak.slope_bytes_per_request == pytest.approx(64, abs=0.01)
    assert leak.bytes_per_request == pytest.approx(64, abs=0.01) and leak.growth_pct > 0

    flat = Growth.of(served, [100 * MIB] * len(served))
    assert flat.slope_bytes_per_request == 0 and flat.bytes_per_request == 0 and flat.growth_pct == 0


def test_one_allocator_step_is_growth_without_much_of_a_trend():
    served = [30_000 * i for i in range(1, 11)]
    step = Growth.of(served, [100 * MIB] * 2 + [101 * MIB] * 8)  # one arena more, early on, then flat
    assert step.growth_pct == pytest.approx(1.0)
    leak = Growth.of(served, [100 * MIB + int(MIB * i / 9) for i in range(10)])  # the same 1 MiB, steadily
    assert step.slope_bytes_per_request < leak.slope_bytes_per_request


def test_warm_up_lasts_until_the_gateways_verdict_memory_is_full(monkeypatch):
    from devstack.bench.soak import warmed_up_after

    monkeypatch.delenv("GATEWAY_FEEDBACK_MEMORY_ENTRIES", raising=False)
    assert warmed_up_after(300_000, 0.1) == 50_000  # the memory's default bound, past the first 10 %
    assert warmed_up_after(1_000_000, 0.1) == 100_000
    monkeypatch.setenv("GATEWAY_FEEDBACK_MEMORY_ENTRIES", "1000")  # as the gateway would read it
    assert warmed_up_after(300_000, 0.1) == 30_000
