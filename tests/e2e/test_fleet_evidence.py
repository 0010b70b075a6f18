"""`make promote` takes its shadow evidence from Prometheus, summed over every gateway pod by the platform's
recording rules, not from one pod's /metrics: two gateway processes mirror different amounts of production
traffic to staging, a real Prometheus scrapes both with the platform's rules, and the evidence counts
the rows of both."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from model_release.evidence import (
    labelled_from_prometheus,
    mirrored_from_prometheus,
    shadow_agreement,
    shadow_agreement_from_prometheus,
)
from serving_common.model_dir import read_metadata
from tests.e2e.conftest import extra_gateway, running_prometheus, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Rows each gateway mirrors: before Prometheus has seen a series (its first sample is not an increase),
# then while it watches.
WARM_UP, COUNTED = {"a": 3, "b": 3}, {"a": 20, "b": 45}


def _send(gateway: str, rows: int) -> str:
    """A production batch of ``rows`` e-mails; its request id."""
    emails = [f"Quarterly report {i}: see the attached figures" for i in range(rows)]
    answer = httpx.post(
        f"{gateway}/api/v1/batch-predict", json={"emails": emails}, headers={"X-Environment": "production"}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["request_id"])


def _label(gateway: str, request_id: str, positions: range) -> None:
    """Users' labels of a production batch's rows, sent to the gateway that answered it."""
    for position in positions:
        body = {"request_id": request_id, "position": position, "label": "ham"}
        answer = httpx.post(
            f"{gateway}/api/v1/feedback", json=body, headers={"X-Environment": "production"}, timeout=30
        )
        assert answer.status_code == 200 and answer.json()["counted"], answer.text


def _labelled_pods(prometheus: str, production: str) -> int:
    series = (
        f'gateway_feedback_total{{model_name="spam-detector",environment="production",model_version="{production}"}}'
    )
    query = f"count(count by (instance) ({series}))"
    result = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=10).json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def _compared(prometheus: str, model: str, production: str, staging: str) -> int:
    fields = shadow_agreement_from_prometheus(prometheus, model, production, staging)
    return fields.get("label", (0, 0))[1]


def _pods_seen(prometheus: str, production: str, staging: str) -> int:
    series = (
        f'gateway_shadow_comparisons_total{{model_name="spam-detector",production_version="{production}",'
        f'staging_version="{staging}",field="label"}}'
    )
    query = f"count(count by (instance) ({series}))"
    result = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=10).json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def test_promote_reads_every_gateways_shadow_agreement_from_prometheus(stack, model_dirs, tmp_path):
    production, staging = (read_metadata(model_dirs[env]).version for env in ("production", "staging"))
    shares = json.dumps({"spam-detector": 1.0})
    urls = (stack.transformer_url("staging"), stack.transformer_url("production"))
    with (
        extra_gateway("fleet-a", tmp_path, *urls, shadow_shares=shares) as (_, a),
        extra_gateway("fleet-b", tmp_path, *urls, shadow_shares=shares) as (_, b),
    ):
        gateways = {"a": a, "b": b}
        scrape = [
            {
                "job_name": "api-gateway",
                "static_configs": [{"targets": [g.removeprefix("http://") for g in gateways.values()]}],
            }
        ]
        with running_prometheus(tmp_path / "prometheus", scrape) as prometheus:
            batches = {}
            for name, gateway in gateways.items():
                batches[name] = _send(gateway, WARM_UP[name])
                _label(gateway, batches[name], range(WARM_UP[name]))  # users' labels, warming up too
            wait_until(lambda: _pods_seen(prometheus, production, staging) == 2, 60, "both pods' series scraped")
            wait_until(lambda: _labelled_pods(prometheus, production) == 2, 60, "both pods' label series scraped")
            for name, gateway in gateways.items():
                counted = _send(gateway, COUNTED[name])
                _label(gateway, counted, range(COUNTED[name]))

            def one_pod() -> dict[str, int]:
                return {
                    name: shadow_agreement(httpx.get(f"{g}/metrics").text, "spam-detector", production, staging).get(
                        "label", (0, 0)
                    )[1]
                    for name, g in gateways.items()
                }

            expected = {name: WARM_UP[name] + COUNTED[name] for name in gateways}  # the pods' counts differ
            wait_until(lambda: one_pod() == expected, 60, "the mirrored rows compared")  # after the answers
            total = sum(COUNTED.values())
            wait_until(
                lambda: _compared(prometheus, "spam-detector", production, staging) >= total - 1, 60, "both pods' rows"
            )
            fields = shadow_agreement_from_prometheus(prometheus, "spam-detector", production, staging)
            agreed, compared = fields["label"]
            assert compared > max(expected.values())  # the fleet's rows, not one pod's
            assert compared <= sum(expected.values())  # never more rows than were compared
            assert 0 <= agreed <= compared
            # The mirrored calls behind them (one batch per pod after warm-up), all answered by staging.
            wait_until(lambda: mirrored_from_prometheus(prometheus, "spam-detector").sent >= 2, 60, "mirrored calls")
            mirrored = mirrored_from_prometheus(prometheus, "spam-detector")
            assert mirrored.failed == 0 and 2 <= mirrored.answered <= 4, mirrored

            overlays = tmp_path / "overlays"
            for env, version in (("staging", staging), ("production", production)):
                (overlays / env).mkdir(parents=True)
                spec = {"uris": {"spam-detector": f"s3://textserve-models/spam-detector/{version}"}, "history": []}
                (overlays / env / "model-versions.yaml").write_text(yaml.safe_dump({"spec": spec}))
            promote = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "model_release",
                    "promote",
                    "--model",
                    "spam-detector",
                    "--overlays",
                    str(overlays),
                    "--prometheus",
                    prometheus,
                    "--baselines-url",
                    str(tmp_path / "no-baselines"),
                ],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=Path(__file__).resolve().parents[2],
            )
            # Refused: the store cannot be read without credentials (said plainly, no traceback) and there is
            # no baseline; but the shadow line is the fleet's.
            assert promote.returncode == 2, promote.stderr
            assert "MISSING  evaluation: could not read s3://textserve-models/spam-detector/" in promote.stdout
            line = next(x for x in promote.stdout.splitlines() if "shadow agreement on label" in x)
            rows = int(re.search(r"\d+/(\d+) = ", line).group(1))
            assert "every gateway pod" in line and rows > max(expected.values()), line
            line = next(x for x in promote.stdout.splitlines() if "shadow calls staging answered" in x)
            assert line.startswith("  ok "), line
            assert ", 0 failed (every gateway pod, last hour, from Prometheus" in line, line
            # Users' labels of production's verdicts, from both pods; none of staging's: shown, not compared.
            labelled = labelled_from_prometheus(prometheus, "spam-detector", "production", production)
            assert max(COUNTED.values()) < labelled.rows <= sum(expected.values())
            line = next(x for x in promote.stdout.splitlines() if "users' labels" in x)
            shown = int(re.search(r"staging 0, production (\d+) labelled rows", line).group(1))  # type: ignore[union-attr]
            assert max(COUNTED.values()) < shown <= sum(expected.values()) and "from Prometheus" in line, line
