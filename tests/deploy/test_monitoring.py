"""Rules, alert unit tests, dashboard queries and Dockerfiles, checked offline with the real tools."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.dashboards import MONITORING, ROOT, dashboard_exprs, metric_names, rule_groups

pytestmark = pytest.mark.deploy

DOCKERFILES = sorted(ROOT.glob("**/Dockerfile*"))


def _promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=cwd)


def test_rules_pass_promtool_check(tmp_path):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_groups()))
    result = _promtool("check", "rules", str(tmp_path / "rules.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_pass_their_unit_tests(tmp_path):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_groups()))
    shutil.copy(MONITORING / "tests" / "alerts-test.yaml", tmp_path)
    result = _promtool("test", "rules", "alerts-test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_severity_summary_description_and_runbook():
    alerts = [r for g in rule_groups()["groups"] for r in g["rules"] if "alert" in r]
    assert {a["alert"] for a in alerts} >= {
        "TextserveHighLatencyP95",
        "TextserveHighErrorRatio",
        "TextserveEnvironmentNotReady",
        "TextserveHPAAtMaximum",
    }
    for alert in alerts:
        assert alert["alert"][0].isupper() and "_" not in alert["alert"]
        assert alert["for"] and alert["labels"]["severity"] in {"warning", "critical"}
        assert {"summary", "description", "runbook_url"} <= set(alert["annotations"])


def test_every_dashboard_query_parses_as_promql(tmp_path):
    exprs = [e for found in dashboard_exprs().values() for e in found]
    assert len(exprs) >= 10
    # promtool parses every expression of a rule file: wrap the queries as recording rules.
    rules = {
        "groups": [
            {"name": "dashboards", "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs)]}
        ]
    }
    (tmp_path / "dashboards.yaml").write_text(yaml.safe_dump(rules))
    result = _promtool("check", "rules", str(tmp_path / "dashboards.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promql_check_would_catch_a_broken_query(tmp_path):
    rules = {"groups": [{"name": "bad", "rules": [{"record": "bad:q", "expr": "sum by (le (rate(x[5m]))"}]}]}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(rules))
    assert _promtool("check", "rules", str(tmp_path / "bad.yaml")).returncode != 0


def test_metric_name_extraction():
    expr = 'histogram_quantile(0.95, sum by (le, environment) (rate(gateway_request_duration_seconds_bucket{environment=~".*"}[5m])))'
    assert metric_names(expr) == {"gateway_request_duration_seconds_bucket"}
    assert metric_names("a_total / on (x) group_left b_total > bool 1") == {"a_total", "b_total"}


def test_dashboards_ship_as_configmaps_for_the_grafana_sidecar():
    from tests.deploy.conftest import render

    maps = [o for o in render("platform") if o["kind"] == "ConfigMap" and "dashboard" in o["metadata"]["name"]]
    assert {m["metadata"]["name"] for m in maps} == {
        "textserve-dashboard-platform-overview",
        "textserve-dashboard-models",
        "textserve-dashboard-drift",
    }
    assert all(m["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfiles_pass_hadolint(dockerfile):
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(dockerfile)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_run_as_non_root_from_a_pinned_base():
    assert DOCKERFILES == [ROOT / "Dockerfile"]
    text = DOCKERFILES[0].read_text()
    assert "USER 10001" in text and text.count("FROM ") == 2
    assert "python:3.11.14-slim-bookworm" in text and '--constraint "${CONSTRAINTS}"' in text
