"""What the bench reads from the servers' Prometheus endpoints (parsed with prometheus_client's own
text parser)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def metric_totals(url: str) -> dict[str, float]:
    """Every sample of a ``/metrics`` page summed over its labels, by sample name."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=5).text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def batch_counters(predictor_url: str) -> tuple[float, float, float]:
    """(rows, forward passes, seconds in forward passes) so far, from the predictor's metrics."""
    totals = metric_totals(predictor_url)
    return (
        totals.get("model_server_batch_size_sum", 0.0),
        totals.get("model_server_batch_size_count", 0.0),
        totals.get("model_server_forward_seconds_sum", 0.0),
    )
