"""A real Prometheus (Debian's package) on loopback scrapes the local stack with the platform's rules:
every target up, every rule group loaded, and every metric a dashboard queries actually exported."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import httpx
import pytest

from devstack.stack import ENVIRONMENTS
from tests.deploy.dashboards import dashboard_exprs, metric_names, recorded_names
from tests.e2e.conftest import running_prometheus, wait_until

pytestmark = pytest.mark.e2e


def _hostport(url: str) -> str:
    return urlparse(url).netloc


@pytest.fixture(scope="module")
def prometheus(stack, api, tmp_path_factory):
    inference_targets = [
        {
            "targets": [_hostport(stack.transformer_url(env)), _hostport(stack.predictor_url(env))],
            "labels": {"environment": env},
        }
        for env in ENVIRONMENTS
    ]
    scrape_configs = [
        {"job_name": "api-gateway", "static_configs": [{"targets": [_hostport(stack.gateway_url)]}]},
        {"job_name": "textserve-inference", "static_configs": inference_targets},
    ]
    with running_prometheus(tmp_path_factory.mktemp("prometheus"), scrape_configs) as base:
        # Traffic through every path so that every histogram and counter has samples.
        for env in ENVIRONMENTS:
            for _ in range(3):
                api.post(
                    "/api/v1/predict", json={"email_content": "Free prize! Call now"}, headers={"X-Environment": env}
                )
                api.post("/api/v1/intent/predict", json={"text": "Plan a trip to Rome"}, headers={"X-Environment": env})
            api.post("/api/v1/predict", json={"email_content": "word " * 3000}, headers={"X-Environment": env})
        yield base


def _targets(base: str) -> list[dict]:
    return httpx.get(f"{base}/api/v1/targets").json()["data"]["activeTargets"]


def test_prometheus_scrapes_every_component(prometheus):
    wait_until(
        lambda: len(_targets(prometheus)) == 5 and all(t["health"] == "up" for t in _targets(prometheus)),
        60,
        "all five targets up",
    )
    targets = _targets(prometheus)
    assert {t["labels"]["job"] for t in targets} == {"api-gateway", "textserve-inference"}
    assert {t["labels"].get("environment") for t in targets if t["labels"]["job"] == "textserve-inference"} == set(
        ENVIRONMENTS
    )


def test_platform_rules_are_loaded_and_healthy(prometheus):
    def loaded():
        groups = httpx.get(f"{prometheus}/api/v1/rules").json()["data"]["groups"]
        return {g["name"] for g in groups} == {"textserve.recording", "textserve.feedback", "textserve.alerts"} and all(
            r["health"] == "ok" for g in groups for r in g["rules"]
        )

    wait_until(loaded, 30, "rule groups loaded and evaluated")


def test_every_metric_a_dashboard_queries_is_exported(prometheus, api):
    # The drift dashboard reads what the drift job pushes: tests/drift_detector checks those names
    # against the metrics a real drift run writes.
    # Production traffic: it is what the stack mirrors to staging, so the shadow metrics exist too.
    # A user's label of one of them: the feedback counters exist once a label has come (whatever ran before).
    answers = [
        api.post(path, json=body, headers={"X-Environment": "production"})
        for path, body in (
            ("/api/v1/predict", {"email_content": "lunch at noon?"}),
            ("/api/v1/intent/predict", {"text": "hi"}),
        )
    ]
    assert [a.status_code for a in answers] == [200, 200]
    label = {"request_id": answers[0].json()["request_id"], "label": "ham"}
    assert api.post("/api/v1/feedback", json=label, headers={"X-Environment": "production"}).status_code == 200
    wanted = {
        name
        for dashboard, exprs in dashboard_exprs().items()
        if dashboard != "drift.json"
        for e in exprs
        for name in metric_names(e)
    }
    assert wanted

    def exported() -> set[str]:
        return set(httpx.get(f"{prometheus}/api/v1/label/__name__/values").json()["data"])

    deadline = time.monotonic() + 30
    while (missing := wanted - exported() - recorded_names()) and time.monotonic() < deadline:
        time.sleep(1)
    assert not missing, f"dashboards query metrics nobody exports: {sorted(missing)}"


def test_recorded_series_have_data(prometheus):
    def has_data():
        result = httpx.get(f"{prometheus}/api/v1/query", params={"query": "textserve:gateway_requests:rate5m"}).json()
        return bool(result["data"]["result"])

    wait_until(has_data, 30, "recording rule output")
