"""The bench's mixed-traffic step: the batch it sends is the largest the gateway accepts for the model, of real
e-mails with text, and its report says what was measured."""

from __future__ import annotations

import pytest

from api_gateway.core.config import GatewaySettings
from devstack.bench.mixed import Latencies, largest_batch, mixed_lines


@pytest.mark.parametrize("max_length", [128, 512])
def test_the_batch_is_the_largest_the_gateway_accepts_for_the_models_length(max_length):
    settings = GatewaySettings()
    emails = largest_batch(max_length)
    assert len(emails) == min(settings.max_batch_size, settings.max_batch_tokens // max_length)
    assert all(email["email_content"] and email["email_content"].strip() for email in emails)
    assert sum(len(email["email_content"]) for email in emails) > 1_000 * len(emails)  # long mail, on average


def test_latencies_are_summarised_in_milliseconds_and_the_report_has_a_row_per_batch():
    singles = Latencies.of([0.001 * n for n in range(1, 11)])  # 1 .. 10 ms
    assert (singles.count, singles.p50_ms, singles.p90_ms, singles.max_ms) == (10, 5.5, 9.1, 10.0)
    result = {
        "emails": 256,
        "singles_alone": {"count": 100, "p50_ms": 4.0, "p90_ms": 4.2, "max_ms": 4.6},
        "rounds": [{"status": 200, "batch_ms": 1850.0, "singles": vars(singles)}],
    }
    report = mixed_lines(result)
    assert "| singles alone | - | 100 | 4.0 / 4.2 / 4.6 |" in report
    assert "| batch 1 | 200, 1850.0 | 10 | 5.5 / 9.1 / 10.0 |" in report
