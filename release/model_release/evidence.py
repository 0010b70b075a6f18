"""What a version has earned before production serves it: shadow agreement on production's own traffic,
the evaluation it was built with, and a drift baseline."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import fsspec
import httpx
from prometheus_client.parser import text_string_to_metric_families

from serving_common.baseline import BaselineStore

SHADOW_COMPARISONS = "gateway_shadow_comparisons"  # the gateway's counter (api_gateway/shadow.py)


@dataclass(frozen=True)
class Evidence:
    missing: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)


def shadow_agreement(metrics_text: str, model: str, production: str, staging: str) -> dict[str, tuple[int, int]]:
    """(agreed, compared) per field for one version pair, from a gateway's Prometheus text exposition."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for family in text_string_to_metric_families(metrics_text):
        if family.name != SHADOW_COMPARISONS:
            continue
        for sample in family.samples:
            labels = sample.labels
            if not sample.name.endswith("_total"):
                continue  # the _created timestamp
            if (labels.get("model_name"), labels.get("production_version"), labels.get("staging_version")) != (
                model,
                production,
                staging,
            ):
                continue
            tally = counts[labels["field"]]
            tally[1] += int(sample.value)
            if labels.get("outcome") == "agree":
                tally[0] += int(sample.value)
    return {name: (agreed, total) for name, (agreed, total) in counts.items()}


def read_metrics(source: str) -> str:
    """A gateway's ``/metrics`` URL, or a saved copy of it."""
    if source.startswith(("http://", "https://")):
        return httpx.get(source, timeout=10).raise_for_status().text
    return Path(source.removeprefix("file://")).read_text(encoding="utf-8")


def _shadow(
    evidence: Evidence, fields: dict[str, tuple[int, int]], pair: str, min_rows: int, min_agreement: float
) -> None:
    if not fields:
        evidence.missing.append(f"shadow agreement: no comparisons of {pair}")
    for name, (agreed, total) in sorted(fields.items()):
        share = agreed / total if total else 0.0
        line = f"shadow agreement on {name}: {agreed}/{total} = {share:.1%}"
        if total < min_rows:
            evidence.missing.append(f"{line} (fewer than {min_rows} rows compared)")
        elif share < min_agreement:
            evidence.missing.append(f"{line} (below {min_agreement:.0%})")
        else:
            evidence.found.append(line)


def _evaluation(evidence: Evidence, store: str, model: str, version: str) -> None:
    url = f"{store.rstrip('/')}/{model}/{version}/metrics.json"
    fs, path = fsspec.core.url_to_fs(url)
    if not fs.exists(path):
        evidence.missing.append(f"evaluation: {url} not found (sync the model directory)")
        return
    with fs.open(path) as fh:
        figures = json.load(fh)
    held_out = figures.get("held_out") or {}
    if held_out:
        shown = {k: round(v, 4) for k, v in held_out.items() if isinstance(v, float)}
        evidence.found.append(f"evaluation (held-out split): {shown}")
    else:
        evidence.missing.append("evaluation: metrics.json has no held-out figures")
    if figures.get("independent"):
        evidence.found.append(f"evaluation (independent sets): {figures['independent']}")


def gather_evidence(
    model: str,
    version: str,
    production_version: str,
    store: str,
    *,
    metrics: str | None,
    baselines_url: str,
    min_rows: int,
    min_agreement: float,
) -> Evidence:
    evidence = Evidence()
    if metrics is None:
        evidence.missing.append("shadow agreement: no --metrics source (a gateway's /metrics URL or a saved copy)")
    else:
        fields = shadow_agreement(read_metrics(metrics), model, production_version, version)
        _shadow(evidence, fields, f"{version} against production's {production_version}", min_rows, min_agreement)
    _evaluation(evidence, store, model, version)
    if BaselineStore(baselines_url).exists(model, version):
        evidence.found.append(f"baseline: {baselines_url}/{model}/{version}")
    else:
        evidence.missing.append(
            f"baseline: none for {model} {version} under {baselines_url} (run the baseline generator)"
        )
    return evidence
