"""One error path: every component answers in the platform's shape with one status per code, in every
worker process, and the gateway keeps an upstream 4xx's meaning."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import extra_gateway, extra_pair

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    return body


def test_a_transformer_with_two_workers_answers_errors_the_platform_way_in_each(model_dir, tmp_path):
    with extra_pair("workers", tmp_path, model_dir, transformer_args=["--workers", "2", "--inference_log", "off"]) as (
        _,
        transformer,
    ):
        base = f"{transformer.url}/v1/models/spam-detector"
        # Enough calls, each on its own connection, that both worker processes answer some.
        for i in range(12):
            bad = httpx.post(f"{base}:predict", json={"instances": []}, headers={"X-Request-ID": f"w-{i}"})
            assert _error(bad, 422, "invalid_input")["request_id"] == f"w-{i}"
            assert httpx.get(f"{base}/metadata").json()["name"] == "spam-detector"
            _error(
                httpx.post(f"{transformer.url}/v1/models/nope:predict", json={"instances": [{"text": "x"}]}),
                404,
                "model_not_found",
            )
        good = httpx.post(f"{base}:predict", json={"instances": [{"text": "See you at lunch tomorrow"}]})
        assert good.status_code == 200 and good.json()["predictions"][0]["label"] in {"spam", "ham"}
        big = httpx.post(
            f"{base}:predict", content=b"x" * (70 * 1024 * 1024), headers={"content-type": "application/json"}
        )
        _error(big, 413, "payload_too_large")


def test_the_gateway_keeps_an_upstream_client_error(model_dir, tmp_path):
    small = {"FEATURE_TRANSFORMER_MAX_BODY_BYTES": "2048"}
    with (
        extra_pair("small-body", tmp_path, model_dir, env=small) as (_, transformer),
        extra_gateway("small-body-gateway", tmp_path, transformer.url, transformer.url) as (_, gateway),
    ):
        email = {"email_content": "Quarterly numbers attached. " * 200}
        refused = httpx.post(f"{gateway}/api/v1/predict", json=email, timeout=30)
        body = _error(refused, 413, "payload_too_large")
        assert "refused the request" in body["error"]["message"]
        fine = httpx.post(f"{gateway}/api/v1/predict", json={"email_content": "Lunch at noon?"}, timeout=30)
        assert fine.status_code == 200, fine.text
        # A client error is not the service failing: the circuit stays closed.
        for _ in range(8):
            _error(httpx.post(f"{gateway}/api/v1/predict", json=email, timeout=30), 413, "payload_too_large")
        assert httpx.post(f"{gateway}/api/v1/predict", json={"email_content": "Lunch?"}, timeout=30).status_code == 200
