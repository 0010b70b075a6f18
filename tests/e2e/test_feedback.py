"""True labels back from users, through the real gateway in front of real transformers and model servers:
a prediction, then its label; counted once per row by model version; bad labels refused; a key without the
feedback permission refused; a label for a prediction the gateway no longer remembers still stored, and
joined with its prediction by the export (``make labelled-data``), which leaves out the keys it is told to."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import httpx
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from prometheus_client.parser import text_string_to_metric_families

from api_gateway.auth import hash_key
from serving_common.inference_log.reader import InferenceLogReader
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


RAW = (
    "From: Parcel Service <track@parcel.example>\r\nTo: you@example.com\r\nSubject: Your parcel is held\r\n"
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
    "\r\nA fee of =C2=A31.99 is due before we can deliver. Pay now at http://parcel.example/pay\r\n"
)


def test_a_label_for_a_forgotten_prediction_is_stored_and_joined_by_the_export(stack, inference_log_dir, tmp_path):
    """A gateway that remembers one verdict; two labelling keys, one of them a flood (rate-limited); the export
    joins the label of the forgotten prediction with the inference log, and leaves the flooder's out on request."""
    from tests.e2e.test_drift import DRIFT_PYTHON

    keys = {
        "keys": [
            {
                "name": name,
                "sha256": hash_key(f"{name}-key"),
                "environments": ["staging"],
                "permissions": ["predict", "feedback"],
                "requests_per_minute": rpm,
            }
            for name, rpm in (("mail-ui", 600), ("flooder", 6))  # the flooder: a burst of one request
        ]
    }
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    feedback_log = tmp_path / "feedback-log"
    with extra_gateway(
        "gateway-forgetful",
        tmp_path,
        stack.transformer_url("staging"),
        stack.transformer_url("production"),
        auth_enabled="true",
        api_keys_file=str(tmp_path / "keys.json"),
        feedback_log_url=str(feedback_log),
        feedback_memory_entries="1",
    ) as (_, base):
        ui = httpx.Client(base_url=base, headers={"X-API-Key": "mail-ui-key"}, timeout=60)
        raw = ui.post("/api/v1/predict", content=RAW, headers={"Content-Type": "message/rfc822"})
        assert raw.status_code == 200, raw.text
        forgotten = raw.json()
        later = ui.post("/api/v1/predict", json={"email_content": "Lunch at noon on Friday?"}).json()

        label = {"request_id": forgotten["request_id"], "label": "spam", "raw_email": RAW}
        stored = ui.post("/api/v1/feedback", json=label)
        assert stored.status_code == 200, stored.text
        assert stored.json()["matched"] is False  # evicted by the later prediction: stored, not counted live
        text = {"request_id": later["request_id"], "label": "ham", "text": "Lunch at noon on Friday?"}
        assert ui.post("/api/v1/feedback", json=text).json()["matched"] is True
        both = ui.post("/api/v1/feedback", json={**text, "raw_email": RAW})
        assert both.status_code == 422 and "at most one of text and raw_email" in both.text

        flood = {"request_id": forgotten["request_id"], "label": "ham"}
        answers = [
            httpx.post(f"{base}/api/v1/feedback", json=flood, headers={"X-API-Key": "flooder-key"}, timeout=60)
            for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [200, 429, 429]
        assert int(answers[1].headers["retry-after"]) >= 1
    # The gateway has stopped: every accepted label is written; the transformer's rows reach the log.
    reader = InferenceLogReader(str(inference_log_dir))
    wait_until(
        lambda: (
            forgotten["request_id"]
            in reader.window("staging", "spam-detector", datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC))
            .table["request_id"]
            .to_pylist()
        ),
        30,
        "the forgotten prediction's row in the inference log",
    )

    def export(*flags: str) -> dict[str, dict]:
        out = tmp_path / f"labelled{len(flags)}.parquet"
        args = ["--inference-log-url", str(inference_log_dir), "--feedback-log-url", str(feedback_log)]
        subprocess.run(
            [
                str(DRIFT_PYTHON),
                "-m",
                "drift_detector",
                "labelled-data",
                *args,
                "--days",
                "1",
                "--out",
                str(out),
                *flags,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return {r["request_id"]: r for r in pq.read_table(out).to_pylist()}

    rows = export()
    row = rows[forgotten["request_id"]]
    assert row["label"] == "ham" and row["key"] == "flooder"  # the flooder's one accepted label came last
    assert row["model_version"] == forgotten["model_version"] and row["predicted"] == forgotten["prediction"]
    assert rows[later["request_id"]]["text"] == "Lunch at noon on Friday?"

    honest = export("--exclude-key", "flooder")[forgotten["request_id"]]
    assert honest["label"] == "spam" and honest["key"] == "mail-ui"
    assert honest["text"].startswith("Your parcel is held A fee of £1.99 is due")  # parsed as served
