"""True labels back from users, through the real gateway in front of real transformers and model servers:
a prediction, then its label; counted once per row by model version; bad labels refused; a key without the
feedback permission refused; a label for a prediction the gateway no longer remembers still stored."""

from __future__ import annotations

import json

import httpx
import pyarrow.dataset as ds
from prometheus_client.parser import text_string_to_metric_families

from api_gateway.auth import hash_key
from tests.e2e.conftest import extra_gateway, wait_until


def _feedback_counts(api: httpx.Client) -> dict[tuple[str, ...], float]:
    return {
        (s.labels["environment"], s.labels["model_version"], s.labels["predicted"], s.labels["actual"]): s.value
        for family in text_string_to_metric_families(api.get("/metrics").text)
        for s in family.samples
        if s.name == "gateway_feedback_total" and s.labels["model_name"] == "spam-detector"
    }


def _feedback_rows(stack) -> list[dict]:
    root = stack.config.feedback_log_url
    try:
        return ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pylist()
    except (FileNotFoundError, ValueError):
        return []


def test_a_label_for_a_prediction_is_counted_once_by_version_and_written(api, stack):
    answer = api.post("/api/v1/predict", json={"email_content": "WINNER!! claim your prize, call 09061701461"})
    assert answer.status_code == 200
    verdict = answer.json()
    before = _feedback_counts(api)
    key = ("staging", verdict["model_version"], verdict["prediction"], "ham")

    first = api.post("/api/v1/feedback", json={"request_id": verdict["request_id"], "label": "ham"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["matched"] and body["counted"] and body["predicted"] == verdict["prediction"]
    assert body["model_version"] == verdict["model_version"]
    again = api.post("/api/v1/feedback", json={"request_id": verdict["request_id"], "label": "spam"}).json()
    assert again["matched"] and not again["counted"]  # replaces the first label; counted once
    after = _feedback_counts(api)
    assert after[key] == before.get(key, 0) + 1
    assert sum(after.values()) == sum(before.values()) + 1

    # A batch's rows by position; a position it does not have, and a label the model does not have: 422.
    batch = api.post("/api/v1/batch-predict", json={"emails": ["hi", "lunch?", "FREE entry, text WIN"]}).json()
    third = api.post("/api/v1/feedback", json={"request_id": batch["request_id"], "position": 2, "label": "spam"})
    assert third.status_code == 200 and third.json()["predicted"] == batch["predictions"][2]["prediction"]
    fourth = api.post("/api/v1/feedback", json={"request_id": batch["request_id"], "position": 3, "label": "ham"})
    assert fourth.status_code == 422 and fourth.json()["error"]["code"] == "invalid_input"
    wrong = api.post("/api/v1/feedback", json={"request_id": verdict["request_id"], "label": "eggs"})
    assert wrong.status_code == 422 and "ham, spam" in wrong.json()["error"]["message"]

    # Intent: the true intent; the complexity head's name is not a label.
    intent = api.post("/api/v1/intent/predict", json={"text": "Translate 'good morning' into Spanish"}).json()
    ok = api.post(
        "/api/v1/feedback", json={"request_id": intent["request_id"], "task": "intent", "label": "translation"}
    )
    assert ok.status_code == 200 and ok.json()["predicted"] == intent["intent"]
    bad = api.post(
        "/api/v1/feedback", json={"request_id": intent["request_id"], "task": "intent", "label": "complexity"}
    )
    assert bad.status_code == 422

    # A prediction this gateway does not remember (older, or another replica's): stored, not counted live.
    unknown = api.post("/api/v1/feedback", json={"request_id": "answered-by-another-replica", "label": "spam"})
    assert unknown.status_code == 200
    assert not unknown.json()["matched"] and unknown.json()["predicted"] is None

    def written() -> bool:
        ids = {(r["request_id"], r["label"]) for r in _feedback_rows(stack)}
        return {
            (verdict["request_id"], "ham"),
            (verdict["request_id"], "spam"),
            ("answered-by-another-replica", "spam"),
        } <= ids

    wait_until(written, 30, "the feedback rows in the feedback log")
    rows = [r for r in _feedback_rows(stack) if r["request_id"] == "answered-by-another-replica"]
    assert rows[0]["predicted"] is None and rows[0]["model_version"] is None and rows[0]["model"] == "spam-detector"
    assert rows[0]["environment"] == "staging" and rows[0]["key"] is None


def test_only_a_key_with_the_feedback_permission_may_send_labels(stack, tmp_path):
    keys = {
        "keys": [
            {"name": "predictor", "sha256": hash_key("predict-key"), "environments": ["staging"]},
            {
                "name": "labeller",
                "sha256": hash_key("label-key"),
                "environments": ["staging"],
                "permissions": ["predict", "feedback"],
            },
        ]
    }
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    with extra_gateway(
        "gateway-keys",
        tmp_path,
        stack.transformer_url("staging"),
        stack.transformer_url("production"),
        auth_enabled="true",
        api_keys_file=str(tmp_path / "keys.json"),
        feedback_log_url=str(tmp_path / "feedback-log"),
    ) as (_, base):
        body = {"request_id": "r-1", "label": "ham"}
        refused = httpx.post(f"{base}/api/v1/feedback", json=body, headers={"X-API-Key": "predict-key"}, timeout=30)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
        allowed = httpx.post(f"{base}/api/v1/feedback", json=body, headers={"X-API-Key": "label-key"}, timeout=30)
        assert allowed.status_code == 200, allowed.text
    rows = ds.dataset(str(tmp_path / "feedback-log"), format="parquet", partitioning="hive").to_table().to_pylist()
    assert [(r["request_id"], r["key"]) for r in rows] == [("r-1", "labeller")]  # written on shutdown, attributed
