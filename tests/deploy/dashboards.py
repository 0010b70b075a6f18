"""Reading the Grafana dashboards and the PrometheusRule the way Prometheus will."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
_TEMPLATE_VARS = {"$environment": ".*", "${datasource}": "prometheus"}


def dashboard_exprs() -> dict[str, list[str]]:
    """Every panel query of every dashboard, Grafana variables replaced by what 'All' selects."""
    exprs: dict[str, list[str]] = {}
    for path in sorted((MONITORING / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        found = []
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for var, value in _TEMPLATE_VARS.items():
                    expr = expr.replace(var, value)
                found.append(expr)
        exprs[path.name] = found
    return exprs


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads (label matchers, grouping labels, ranges and functions removed)."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    stripped = re.sub(r"\{[^}]*\}", "", stripped)
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)
    stripped = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", stripped)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", stripped):
        rest = stripped[match.end() :].lstrip()
        if rest.startswith("(") or match.group() in _KEYWORDS:
            continue
        names.add(match.group())
    return names


def rule_groups() -> dict:
    """The PrometheusRule's groups as a plain Prometheus rule file."""
    rule = yaml.safe_load((MONITORING / "textserve-prometheusrule.yaml").read_text())
    return {"groups": rule["spec"]["groups"]}


def recorded_names() -> set[str]:
    return {r["record"] for g in rule_groups()["groups"] for r in g["rules"] if "record" in r}
