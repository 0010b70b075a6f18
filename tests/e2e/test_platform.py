"""The real platform on loopback: two model-servers, two feature transformers and the gateway,
each its own process, driven over HTTP through the gateway."""

from __future__ import annotations

import json
import signal
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

from devstack.stack import ENVIRONMENTS, LocalStack, StackConfig
from model_training.intent_data import INTENTS
from serving_common import v2_binary
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e

SPAM = "WINNER!! As a valued network customer you have been selected to receive a £900 prize reward! Call 09061701461. Claim code KL341. Valid 12 hours only."
HAM = "Ok lar... I'll see you at home after work, do you want me to pick up some milk?"


def _version(model_dir) -> str:
    return json.loads((model_dir / "metadata.json").read_text())["version"]


def _threshold(model_dir) -> float:
    return json.loads((model_dir / "metadata.json").read_text())["decision_threshold"]


def test_readiness_before_and_after_the_models_load(stack, api):
    status, body = stack.ready_before_load
    assert status == 503 and body["ready"] is False
    assert not any(env["ready"] for env in body["environments"].values())
    after = api.get("/ready")
    assert after.status_code == 200
    for env in ENVIRONMENTS:
        environment = after.json()["environments"][env]
        assert environment["ready"] and set(environment["models"]) == {"spam-detector", "intent-classifier"}


def test_single_prediction_defaults_to_staging(api, model_dirs):
    response = api.post("/api/v1/predict", json={"email_content": SPAM, "email_id": "m-1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["environment"] == "staging"
    assert body["model_name"] == "spam-detector" and body["model_version"] == _version(model_dirs["staging"])
    assert body["prediction"] in {"spam", "ham"} and 0 <= body["spam_probability"] <= 1
    assert body["confidence"] in {"low", "medium", "high"} and body["email_id"] == "m-1"
    assert body["latency_ms"] > 0 and body["request_id"] == response.headers["x-request-id"]


def test_the_models_tell_spam_from_ham(api):
    spam = api.post("/api/v1/predict", json={"email_content": SPAM}).json()
    ham = api.post("/api/v1/predict", json={"email_content": HAM}).json()
    assert spam["spam_probability"] > ham["spam_probability"]


def test_text_that_nearly_makes_urls_and_addresses_is_answered_in_time(api):
    """The longest text the gateway takes, one long run that nearly makes a URL and one an address: the
    transformer's feature patterns, scanned directly, spent some 15 s on it: a 504 at the gateway's 10-s deadline."""
    text = "x-" * 24_000 + ".comx " + "a." * 24_000 + "@"
    response = api.post("/api/v1/predict", json={"email_content": text})
    assert response.status_code == 200, response.text
    assert response.json()["model_name"] == "spam-detector"


def test_a_text_of_combining_marks_is_answered_in_time(api):
    """The longest text the gateway takes, all combining marks of two classes alternating: NFKC sorted them in
    quadratic time, 15 s on the gateway's event loop (its blank check) and as long again at the transformer."""
    response = api.post("/api/v1/predict", json={"email_content": "a" + "\u0301\u0316" * 49_999})
    assert response.status_code == 200, response.text
    assert response.json()["model_name"] == "spam-detector"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_is_served_by_its_own_pair(api, model_dirs, env):
    response = api.post("/api/v1/predict", json={"email_content": SPAM}, headers={"X-Environment": env})
    assert response.status_code == 200, response.text
    assert response.json()["environment"] == env
    assert response.json()["model_version"] == _version(model_dirs[env])


def test_unknown_environment_is_a_400_naming_the_valid_ones(api):
    response = api.post("/api/v1/predict", json={"email_content": SPAM}, headers={"X-Environment": "prod"})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "staging" in message and "production" in message


def _predictor_requests(stack, env: str) -> float:
    """The predictor's count of inference requests it answered (every model, every outcome)."""
    text = httpx.get(f"{stack.predictor_url(env)}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("model_server_requests_total{")
    )


def test_batch_keeps_input_order_and_is_one_upstream_call(stack, api):
    request_id = f"batch-{uuid.uuid4().hex[:8]}"
    before = _predictor_requests(stack, "production")
    emails = [
        SPAM,
        {"email_content": HAM, "email_id": "b"},
        "Free entry in 2 a wkly comp to win FA Cup final tkts",
        HAM,
    ]
    response = api.post(
        "/api/v1/batch-predict",
        json={"emails": emails},
        headers={"X-Environment": "production", "X-Request-ID": request_id},
    )
    assert response.status_code == 200, response.text
    # One request reached the predictor for the whole batch.
    assert _predictor_requests(stack, "production") - before == 1
    body = response.json()
    assert body["count"] == 4 and body["environment"] == "production"
    assert [p["email_id"] for p in body["predictions"]] == [None, "b", None, None]
    single = [
        api.post(
            "/api/v1/predict",
            json={"email_content": e if isinstance(e, str) else e["email_content"]},
            headers={"X-Environment": "production"},
        ).json()["spam_probability"]
        for e in emails
    ]
    assert [p["spam_probability"] for p in body["predictions"]] == pytest.approx(single, abs=1e-4)


def test_request_id_reaches_the_transformer_and_predictor(stack, api):
    request_id = f"trace-{uuid.uuid4().hex[:12]}"
    response = api.post(
        "/api/v1/predict", json={"email_content": HAM}, headers={"X-Request-ID": request_id, "X-Environment": "staging"}
    )
    assert response.headers["x-request-id"] == request_id and response.json()["request_id"] == request_id
    # Staging runs with --enable_latency_logging true (see conftest): one line per request and hop. A line
    # reaches the log file through the process's pipe, after the answer may have: waited for, briefly.
    for name in ("staging-transformer", "staging-predictor"):
        wait_until(lambda n=name: f"requestId: {request_id}" in stack.processes[n].log_text(), 10, f"{name}'s line")


def test_no_per_request_log_lines_by_default(stack, api):
    """Production runs with the defaults: requests are counted in metrics, not written line by line."""
    request_id = f"quiet-{uuid.uuid4().hex[:12]}"
    response = api.post(
        "/api/v1/predict",
        json={"email_content": HAM},
        headers={"X-Request-ID": request_id, "X-Environment": "production"},
    )
    assert response.status_code == 200
    for name in ("production-transformer", "production-predictor"):
        log = stack.processes[name].log_text()
        assert request_id not in log and "requestId:" not in log and '"POST /v' not in log


def test_every_process_binds_loopback_only(stack):
    assert stack.config.host == "127.0.0.1"
    for name in ("staging-predictor", "production-transformer"):
        assert "Uvicorn running on http://127.0.0.1:" in stack.processes[name].log_text()


def test_the_cpu_predictors_serve_without_pytorch(stack):
    """int8 ONNX Runtime, the CPU default, runs in a process that never loaded PyTorch (half a GiB of it): the
    graphs were exported by a child process that has exited."""
    for env in ENVIRONMENTS:
        process = stack.processes[f"{env}-predictor"]
        assert "runtime onnx-int8" in process.log_text()
        maps = Path(f"/proc/{process.proc.pid}/maps").read_text()
        assert "onnxruntime" in maps and "libtorch" not in maps, env


def test_predictor_speaks_open_inference_protocol_v2(stack):
    base = stack.predictor_url("staging")
    assert httpx.get(f"{base}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{base}/v2/models/spam-detector/ready").json()["ready"] is True
    body = {
        "inputs": [
            {"name": "input_ids", "shape": [1, 3], "datatype": "INT64", "data": [1, 7, 2]},
            {"name": "attention_mask", "shape": [1, 3], "datatype": "INT64", "data": [1, 1, 1]},
        ]
    }
    out = httpx.post(f"{base}/v2/models/spam-detector/infer", json=body).json()
    assert out["outputs"][0]["name"] == "logits" and out["outputs"][0]["datatype"] == "FP32"
    assert out["outputs"][0]["shape"] == [1, 2]
    bad = httpx.post(
        f"{base}/v2/models/spam-detector/infer",
        json={"inputs": body["inputs"][:1]},
        headers={"X-Request-ID": "bad-tensor-1"},
    )
    assert bad.status_code == 422
    assert bad.json() == {
        "error": {"code": "invalid_input", "message": bad.json()["error"]["message"], "details": {}},
        "request_id": "bad-tensor-1",
    }
    assert "attention_mask" in bad.json()["error"]["message"]
    missing = httpx.post(f"{base}/v2/models/nope/infer", json=body)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_the_lean_binary_path_and_kserves_path_answer_alike(stack, model_dirs):
    """Binary v2 (the transformer's calls, answered by the model server's lean path) and JSON v2 (KServe's
    handlers) give the same logits and embedding; both bodies are written and read by the one codec."""
    base = f"{stack.predictor_url('staging')}/v2/models/spam-detector/infer"
    ids = np.array([[1, 7, 2, 0], [1, 9, 11, 2]], dtype=np.int64)
    mask = (ids > 0).astype(np.int64)
    tensors = [v2_binary.Tensor("input_ids", ids), v2_binary.Tensor("attention_mask", mask)]
    body, length = v2_binary.encode(tensors, "inputs", id="lean-1")
    lean = httpx.post(base, content=body, headers={v2_binary.HEADER_LENGTH: str(length)})
    assert lean.status_code == 200, lean.text
    answer = v2_binary.decode(lean.content, int(lean.headers[v2_binary.HEADER_LENGTH]), "outputs")
    assert (answer.id, answer.model_version) == ("lean-1", _version(model_dirs["staging"]))
    assert lean.headers["x-model-version"] == answer.model_version
    inline = [
        {"name": t.name, "shape": list(t.data.shape), "datatype": "INT64", "data": t.data.ravel().tolist()}
        for t in tensors
    ]
    kserve = httpx.post(base, json={"inputs": inline})
    assert kserve.status_code == 200, kserve.text
    via_kserve = v2_binary.decode(kserve.content, len(kserve.content), "outputs")
    for name in ("logits", "embedding"):
        np.testing.assert_allclose(answer.get(name).data, via_kserve.get(name).data, atol=1e-6)
    assert answer.get("embedding").parameters == via_kserve.get("embedding").parameters


@pytest.mark.parametrize(
    ("header_length", "body"),
    [("abc", b'{"inputs": []}'), ("15", b"[1, 2, 3, 4, 5]"), ("7", b'{"inputs": []}')],
    ids=["not-an-integer", "not-an-object", "cut-json"],
)
def test_a_malformed_binary_request_is_a_422(stack, header_length, body):
    url = f"{stack.predictor_url('staging')}/v2/models/spam-detector/infer"
    bad = httpx.post(url, content=body, headers={v2_binary.HEADER_LENGTH: header_length, "X-Request-ID": "mal-1"})
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["code"] == "invalid_input" and bad.json()["request_id"] == "mal-1"


def test_transformer_errors_share_the_platform_shape(stack):
    base = stack.transformer_url("staging")
    bad = httpx.post(f"{base}/v1/models/spam-detector:predict", json={"instances": []})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
    not_json = httpx.post(
        f"{base}/v1/models/spam-detector:predict",
        content=b"\xff\xfe not json",
        headers={"content-type": "application/json"},
    )
    assert 400 <= not_json.status_code < 500, not_json.text
    assert set(not_json.json()) == {"error", "request_id"}


@pytest.mark.parametrize("component", ["transformer", "predictor"])
def test_a_wrong_method_is_a_405_naming_the_allowed_ones(stack, component):
    url = getattr(stack, f"{component}_url")("staging")
    wrong = httpx.get(f"{url}/v2/models/spam-detector/infer")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST", wrong.headers  # a 405 must carry Allow
    assert wrong.json()["error"] == {
        "code": "method_not_allowed",
        "message": "method not allowed here; allowed: POST",
        "details": {"allowed": ["POST"]},
    }


def test_processes_stop_gracefully_on_sigterm(stack_model_dirs, tmp_path):
    config = StackConfig.on_free_ports(stack_model_dirs, log_dir=tmp_path, echo=False)
    proc = LocalStack(config).processes["gateway"]
    proc.start()
    proc.wait_ready(60)
    # uvicorn finishes its graceful shutdown, then re-raises SIGTERM so the exit status tells why it stopped.
    assert proc.stop(timeout=15) in (0, -signal.SIGTERM)
    assert "Finished server process" in proc.log_text()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_intent_prediction_in_each_environment(api, intent_model_dir, env):
    response = api.post(
        "/api/v1/intent/predict",
        json={"text": "Write a Python function that reverses a string"},
        headers={"X-Environment": env},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["environment"] == env and body["model_name"] == "intent-classifier"
    assert body["model_version"] == _version(intent_model_dir)
    assert set(body["all_intents"]) == set(INTENTS) and sum(body["all_intents"].values()) == pytest.approx(
        1.0, abs=1e-6
    )
    assert next(t["intent"] for t in body["top_intents"]) == body["intent"] and len(body["top_intents"]) == 3
    assert body["confidence"] == pytest.approx(body["all_intents"][body["intent"]])
    assert 0 <= body["complexity"]["score"] <= 1 and body["complexity"]["level"] in {"simple", "moderate", "complex"}


def test_intent_batch_keeps_order(api):
    texts = ["Translate 'good night' into Italian", "Hi, how are you today?", "Summarize this article about tides"]
    response = api.post("/api/v1/intent/batch-predict", json={"texts": texts})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 3 and len(body["predictions"]) == 3
    singles = [api.post("/api/v1/intent/predict", json={"text": t}).json()["intent"] for t in texts]
    assert [p["intent"] for p in body["predictions"]] == singles


def test_models_lists_what_each_environment_serves(api, model_dirs, intent_model_dir):
    body = api.get("/api/v1/models").json()
    for env in ENVIRONMENTS:
        served = {m["name"]: m for m in body["environments"][env]}
        assert served["spam-detector"]["version"] == _version(model_dirs[env])
        assert served["intent-classifier"]["version"] == _version(intent_model_dir)
        assert all(m["ready"] for m in served.values())
        assert served["intent-classifier"]["task"] == "intent"
        assert served["spam-detector"]["decision_threshold"] == _threshold(model_dirs[env])
        assert served["intent-classifier"]["decision_threshold"] is None
