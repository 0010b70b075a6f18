"""Every prediction through the gateway lands in the inference log: one row per email or prompt,
in its environment's partition, with features, verdict and embedding, and never the text."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from serving_common.embedding import EMBEDDING_DIM
from serving_common.features import FEATURE_NAMES
from serving_common.inference_log.reader import InferenceLogReader

pytestmark = pytest.mark.e2e

SECRET_WORD = "Zanzibarquux"  # a word no model or feature would produce on its own


def _rows_for(reader: InferenceLogReader, env: str, model: str, request_id: str, expected: int) -> list[dict]:
    """Poll until the transformer's writer has flushed the request's rows (it writes every few seconds)."""
    deadline = time.monotonic() + 30
    now = datetime.now(UTC)
    while True:
        table = reader.window(env, model, now - timedelta(hours=1), now + timedelta(hours=1)).table
        rows = [r for r in table.to_pylist() if r["request_id"] == request_id]
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def test_single_and_batch_spam_predictions_are_logged(api, inference_log_dir):
    reader = InferenceLogReader(str(inference_log_dir))
    single_id = f"log-{uuid.uuid4().hex}"
    single = api.post(
        "/api/v1/predict",
        json={"email_content": f"Claim your FREE prize now!!! {SECRET_WORD} call 09061701461"},
        headers={"X-Request-ID": single_id},
    ).json()
    batch_id = f"log-{uuid.uuid4().hex}"
    batch = api.post(
        "/api/v1/batch-predict",
        json={"emails": [f"lunch at noon {SECRET_WORD}?", "see you at 5", "WIN cash now www.win.com"]},
        headers={"X-Request-ID": batch_id, "X-Environment": "production"},
    ).json()

    [row] = _rows_for(reader, "staging", "spam-detector", single_id, 1)
    assert row["model_version"] == single["model_version"] and row["label"] == single["prediction"]
    assert row["probability"] == pytest.approx(single["spam_probability"], abs=1e-9)
    assert row["exclamation_count"] == 3 and row["phone_number_count"] == 1
    assert len(row["embedding"]) == EMBEDDING_DIM and row["embedding_projection"].startswith("rp-")
    assert row["text_hash"] is None  # no salt configured: nothing derived from the text is kept

    rows = _rows_for(reader, "production", "spam-detector", batch_id, 3)
    assert len(rows) == 3 and row["position"] == 0
    by_position = sorted(rows, key=lambda r: r["position"])  # what a user's label names (feedback)
    assert [r["position"] for r in by_position] == [0, 1, 2]
    assert [r["label"] for r in by_position] == [p["prediction"] for p in batch["predictions"]]
    assert {r["url_count"] for r in rows} == {0.0, 1.0}
    for r in rows:
        assert set(FEATURE_NAMES) <= set(r) and all(isinstance(r[f], float) for f in FEATURE_NAMES)

    # The text itself is never stored: no Parquet file contains it.
    for path in inference_log_dir.rglob("*.parquet"):
        assert SECRET_WORD.encode() not in path.read_bytes()


def test_intent_predictions_are_logged_with_complexity(api, inference_log_dir):
    reader = InferenceLogReader(str(inference_log_dir))
    request_id = f"log-{uuid.uuid4().hex}"
    body = api.post(
        "/api/v1/intent/batch-predict",
        json={"texts": ["Translate 'good night' into French", "Write a haiku about autumn rain"]},
        headers={"X-Request-ID": request_id},
    ).json()
    rows = _rows_for(reader, "staging", "intent-classifier", request_id, 2)
    assert len(rows) == 2
    assert sorted(r["label"] for r in rows) == sorted(p["intent"] for p in body["predictions"])
    assert sorted(r["complexity_level"] for r in rows) == sorted(p["complexity"]["level"] for p in body["predictions"])
    assert all(0 <= r["complexity_score"] <= 1 for r in rows)


def test_sigterm_writes_what_the_log_still_holds(stack, model_dir, tmp_path):
    """A transformer stopped right after answering (long before its 5 s flush) still writes its rows."""
    import signal

    import httpx

    from tests.e2e.conftest import transformer_process

    predictor_port = int(stack.predictor_url("staging").rsplit(":", 1)[1])
    args = ["--environment", "staging", "--inference_log_url", str(tmp_path / "log")]
    transformer = transformer_process("log-transformer", tmp_path, model_dir, predictor_port, args)
    transformer.start()
    try:
        transformer.wait_ready(60)
        body = {"instances": [{"text": f"message {i} before shutdown"} for i in range(7)]}
        response = httpx.post(f"{transformer.url}/v1/models/spam-detector:predict", json=body, timeout=30)
        assert response.status_code == 200, response.text
        assert not list((tmp_path / "log").rglob("*.parquet"))  # still buffered
        transformer.proc.send_signal(signal.SIGTERM)
        assert transformer.proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        transformer.stop()
    now = datetime.now(UTC)
    window = InferenceLogReader(str(tmp_path / "log")).window(
        "staging", "spam-detector", now - timedelta(hours=1), now + timedelta(minutes=1)
    )
    assert window.rows == 7


def test_a_transformer_with_two_workers_logs_every_row_once_and_counts_every_text(stack, model_dir, tmp_path):
    """Two worker processes on one port, the inference log on: each writes its own part files (nothing lost or
    overwritten, SIGTERM included), and /metrics, whichever worker answers it, counts both workers' texts."""
    import signal
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from tests.e2e.conftest import transformer_process

    predictor_port = int(stack.predictor_url("staging").rsplit(":", 1)[1])
    args = ["--environment", "staging", "--inference_log_url", str(tmp_path / "log"), "--workers", "2"]
    transformer = transformer_process("workers-transformer", tmp_path, model_dir, predictor_port, args)

    def texts_counted() -> float:
        families = text_string_to_metric_families(httpx.get(f"{transformer.url}/metrics", timeout=10).text)
        return sum(s.value for f in families for s in f.samples if s.name == "transformer_texts_total")

    def send(i: int) -> str:
        # A connection per request, so the kernel hands requests to both workers.
        body = {"instances": [{"text": f"worker message {i} number {j}"} for j in range(3)]}
        request_id = f"workers-{i}"
        response = httpx.post(
            f"{transformer.url}/v1/models/spam-detector:predict",
            json=body,
            headers={"X-Request-ID": request_id},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return request_id

    transformer.start()
    try:
        transformer.wait_ready(120)
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(send, range(40)))
        # Any worker's answer to a scrape holds every worker's counts: the same total from several scrapes.
        assert {texts_counted() for _ in range(6)} == {120.0}
        transformer.proc.send_signal(signal.SIGTERM)
        assert transformer.proc.wait(60) in (0, -signal.SIGTERM)
    finally:
        transformer.stop()
    now = datetime.now(UTC)
    table = (
        InferenceLogReader(str(tmp_path / "log"))
        .window("staging", "spam-detector", now - timedelta(hours=1), now + timedelta(minutes=1))
        .table
    )
    assert table.num_rows == 120 and sorted(set(table["request_id"].to_pylist())) == sorted(ids)
    assert len(list((tmp_path / "log").rglob("*.parquet"))) >= 1
