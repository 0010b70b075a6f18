"""The gateway as several worker processes on one port (GATEWAY_WORKERS), in front of the real stack: every
worker answers, /metrics from any of them counts every worker's requests, and each worker's feedback-log
writer keeps its labels (nothing lost when they stop)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pyarrow.dataset as ds
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import extra_gateway

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _predictions(base: str) -> float:
    families = text_string_to_metric_families(httpx.get(f"{base}/metrics", timeout=10).text)
    return sum(
        s.value
        for f in families
        for s in f.samples
        if s.name == "gateway_predictions_total" and s.labels["model_name"] == "spam-detector"
    )


def test_two_gateway_workers_count_every_request_and_keep_every_label(stack, tmp_path):
    feedback_log = tmp_path / "feedback-log"
    with extra_gateway(
        "gateway-workers",
        tmp_path,
        stack.transformer_url("staging"),
        stack.transformer_url("production"),
        workers="2",
        feedback_log_url=str(feedback_log),
    ) as (_, base):

        def predict_and_label(i: int) -> str:
            # A connection per request, so the kernel hands requests to both workers.
            answer = httpx.post(f"{base}/api/v1/predict", json={"email_content": f"Lunch at {i}?"}, timeout=60)
            assert answer.status_code == 200, answer.text
            request_id = answer.json()["request_id"]
            label = httpx.post(f"{base}/api/v1/feedback", json={"request_id": request_id, "label": "ham"}, timeout=60)
            assert label.status_code == 200, label.text
            return request_id

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(predict_and_label, range(40)))
        assert {_predictions(base) for _ in range(6)} == {40.0}
    rows = ds.dataset(str(feedback_log), format="parquet", partitioning="hive").to_table()
    assert sorted(rows["request_id"].to_pylist()) == sorted(ids)
