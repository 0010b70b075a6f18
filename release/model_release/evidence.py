"""What a version has earned before production serves it: shadow agreement on production's own traffic, and
staging answering that traffic (agreement counts only the calls staging answered: a candidate that fails
some inputs would otherwise pass on the rest), accuracy on the rows users labelled (when there are enough),
the evaluation it was built with, and a drift baseline."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import fsspec
import httpx
from prometheus_client.parser import text_string_to_metric_families

from serving_common.baseline import BaselineStore

SHADOW_COMPARISONS = "gateway_shadow_comparisons"  # the gateway's counter (api_gateway/shadow.py)
# The platform's recording rules (monitoring/textserve-prometheusrule.yaml): every gateway pod's comparisons
# over the last hour, per model, version pair and field.
COMPARED_RULE = "textserve:shadow_comparisons:increase1h"
AGREEMENT_RULE = "textserve:shadow_agreement:ratio1h"
SHADOW_REQUESTS = "gateway_shadow_requests"  # the gateway's mirrored calls by outcome and reason (shadow.py)
MIRRORED_RULE = "textserve:shadow_requests:increase1h"  # every gateway pod's, per model, outcome and reason
NOT_SENT = "queue_full"  # a mirrored request the gateway dropped before calling staging: not staging's failure
FEEDBACK = "gateway_feedback"  # the gateway's live counter of users' labels (api_gateway/feedback.py)
LABELLED_WINDOW = "7d"  # labelled rows weighed by make promote, from Prometheus


@dataclass(frozen=True)
class Labelled:
    """Users' labels of one version's verdicts in one environment: rows per (predicted, actual)."""

    counts: dict[tuple[str, str], int]

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def accuracy(self) -> float:
        return sum(n for (p, a), n in self.counts.items() if p == a) / self.rows if self.rows else math.nan

    @property
    def macro_f1(self) -> float:
        labels = {label for pair in self.counts for label in pair}
        scores = []
        for label in labels:
            hit = self.counts.get((label, label), 0)
            predicted = sum(n for (p, _), n in self.counts.items() if p == label)
            actual = sum(n for (_, a), n in self.counts.items() if a == label)
            scores.append(2 * hit / (predicted + actual) if predicted + actual else 0.0)
        return sum(scores) / len(scores) if scores else math.nan


def labelled_from_metrics(metrics_text: str, model: str, environment: str, version: str) -> Labelled:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for family in text_string_to_metric_families(metrics_text):
        if family.name != FEEDBACK:
            continue
        for sample in family.samples:
            labels = sample.labels
            if sample.name.endswith("_total") and (
                labels.get("model_name"),
                labels.get("environment"),
                labels.get("model_version"),
            ) == (model, environment, version):
                counts[(labels["predicted"], labels["actual"])] += int(sample.value)
    return Labelled(dict(counts))


def labelled_from_prometheus(prometheus_url: str, model: str, environment: str, version: str) -> Labelled:
    """Every gateway pod's labelled rows of the last week, from Prometheus's HTTP API."""
    selector = f'{{model_name="{model}",environment="{environment}",model_version="{version}"}}'
    by = "sum by (predicted, actual)"
    counts = _capped(
        prometheus_url,
        f"{by} (increase({FEEDBACK}_total{selector}[{LABELLED_WINDOW}]))",
        f"{by} ({FEEDBACK}_total{selector})",
        ("predicted", "actual"),
    )
    counts = {pair: rows for pair, rows in counts.items() if rows > 0}
    return Labelled(counts)


@dataclass(frozen=True)
class Mirrored:
    """One model's production requests mirrored to staging: how many staging answered, and how many were
    dropped, by reason (``queue_full``: never sent; any other reason is staging's call failing)."""

    answered: int
    dropped: dict[str, int]

    @property
    def failed(self) -> int:
        return sum(n for reason, n in self.dropped.items() if reason != NOT_SENT)

    @property
    def sent(self) -> int:
        return self.answered + self.failed


def _mirrored(counts: dict[tuple[str, str], int]) -> Mirrored:
    """From counts per (outcome, reason)."""
    dropped = {reason: n for (outcome, reason), n in counts.items() if outcome == "dropped" and n > 0}
    return Mirrored(sum(n for (outcome, _), n in counts.items() if outcome == "shadowed"), dropped)


def mirrored_from_metrics(metrics_text: str, model: str) -> Mirrored:
    """One gateway's mirrored calls of ``model`` since it started, from its Prometheus text exposition."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for family in text_string_to_metric_families(metrics_text):
        if family.name != SHADOW_REQUESTS:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("model_name") == model:
                counts[(sample.labels.get("outcome", ""), sample.labels.get("reason", ""))] += int(sample.value)
    return _mirrored(dict(counts))


def mirrored_from_prometheus(prometheus_url: str, model: str) -> Mirrored:
    """Every gateway pod's mirrored calls of ``model`` over the last hour (the platform's recording rule), from
    Prometheus's HTTP API; capped, like the comparisons, by what the live pods' counters hold."""
    by, selector = "sum by (outcome, reason)", f'{{model_name="{model}"}}'
    counts = _capped(
        prometheus_url,
        f"{by} ({MIRRORED_RULE}{selector})",
        f"{by} ({SHADOW_REQUESTS}_total{selector})",
        ("outcome", "reason"),
    )
    return _mirrored(counts)


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


def shadow_agreement_from_prometheus(
    prometheus_url: str, model: str, production: str, staging: str
) -> dict[str, tuple[int, int]]:
    """(agreed, compared) per field over the last hour, summed over every gateway pod by the platform's
    recording rules, from Prometheus's HTTP API."""
    selector = f'{{model_name="{model}",production_version="{production}",staging_version="{staging}"}}'
    compared = _query(prometheus_url, COMPARED_RULE + selector)
    agreement = _query(prometheus_url, AGREEMENT_RULE + selector)
    # increase() extrapolates to the window's edges, which for series younger than the hour can claim more
    # rows than were ever compared: the rows are capped by what the live pods' counters hold in all.
    held = _query(prometheus_url, f"sum by (field) ({SHADOW_COMPARISONS}_total{selector})")
    fields = {}
    for name, total in compared.items():
        rows = round(min(total, held.get(name, total)))
        share = agreement.get(name, math.nan)
        fields[name] = (0 if math.isnan(share) else round(share * rows), rows)  # NaN: nothing compared yet
    return fields


def _series(prometheus_url: str, query: str) -> list[tuple[dict[str, str], float]]:
    """An instant query's series: (labels, value)."""
    answer = httpx.get(f"{prometheus_url.rstrip('/')}/api/v1/query", params={"query": query}, timeout=10)
    body = answer.raise_for_status().json()
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus refused {query!r}: {body.get('error')}")
    return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]


def _capped(prometheus_url: str, increased: str, held: str, keys: tuple[str, str]) -> dict[tuple[str, str], int]:
    """A counter's increase over a window per pair of labels (``keys``), capped by what the live pods' counters
    hold in all (``held``): increase() extrapolates to the window's edges, which for series younger than the
    window can claim more than ever happened."""

    def pair(labels: dict[str, str]) -> tuple[str, str]:
        return labels.get(keys[0], ""), labels.get(keys[1], "")

    ceiling = {pair(labels): value for labels, value in _series(prometheus_url, held)}
    return {
        pair(labels): round(min(value, ceiling.get(pair(labels), value)))
        for labels, value in _series(prometheus_url, increased)
    }


def _query(prometheus_url: str, query: str) -> dict[str, float]:
    """An instant query's value per ``field`` label."""
    return {labels.get("field", ""): value for labels, value in _series(prometheus_url, query)}


def read_metrics(source: str) -> str:
    """A gateway's ``/metrics`` URL, or a saved copy of it."""
    if source.startswith(("http://", "https://")):
        return httpx.get(source, timeout=10).raise_for_status().text
    return Path(source.removeprefix("file://")).read_text(encoding="utf-8")


def _shadow(
    evidence: Evidence,
    fields: dict[str, tuple[int, int]],
    pair: str,
    min_rows: int,
    min_agreement: float,
    source: str,
) -> None:
    if not fields:
        evidence.missing.append(f"shadow agreement: no comparisons of {pair} ({source})")
    for name, (agreed, total) in sorted(fields.items()):
        share = agreed / total if total else 0.0
        line = f"shadow agreement on {name}: {agreed}/{total} = {share:.1%} ({source})"
        if total < min_rows:
            evidence.missing.append(f"{line} (fewer than {min_rows} rows compared)")
        elif share < min_agreement:
            evidence.missing.append(f"{line} (below {min_agreement:.0%})")
        else:
            evidence.found.append(line)


def _answered(evidence: Evidence, mirrored: Mirrored, max_failures: float, source: str) -> None:
    """Staging's failures on the mirrored calls (timeouts, errors, refusals), which the agreement cannot count.
    Nothing is said when nothing was sent: the agreement line already says so."""
    if mirrored.sent == 0:
        return
    share = mirrored.failed / mirrored.sent
    failures = ", ".join(f"{reason} {n}" for reason, n in sorted(mirrored.dropped.items()) if reason != NOT_SENT)
    line = (
        f"shadow calls staging answered: {mirrored.answered}/{mirrored.sent}, {mirrored.failed} failed"
        + (f" ({failures})" if failures else "")
        + (f"; {mirrored.dropped[NOT_SENT]} not sent, the queue full" if NOT_SENT in mirrored.dropped else "")
        + f" ({source}; the staging version serving then)"
    )
    if share > max_failures:
        evidence.missing.append(f"{line} (more than {max_failures:.0%} failed)")
    else:
        evidence.found.append(line)


def _labelled(
    evidence: Evidence, staging: Labelled, production: Labelled, min_labels: int, max_drop: float, source: str
) -> None:
    """Checked only when both versions have ``min_labels`` labelled rows: users label what they see, so
    often one environment has few; then the line says so and blocks nothing."""

    def figures(labelled: Labelled) -> str:
        return f"{labelled.accuracy:.1%} accuracy, macro F1 {labelled.macro_f1:.3f} on {labelled.rows} rows"

    if staging.rows < min_labels or production.rows < min_labels:
        evidence.found.append(
            f"users' labels: staging {staging.rows}, production {production.rows} labelled rows; fewer than "
            f"{min_labels} for one of them, not compared ({source})"
        )
        return
    line = f"users' labels: staging {figures(staging)}; production {figures(production)} ({source})"
    if staging.accuracy < production.accuracy - max_drop:
        evidence.missing.append(f"{line} (staging is more than {max_drop:.0%} less accurate)")
    else:
        evidence.found.append(line)


def _evaluation(evidence: Evidence, store: str, model: str, version: str) -> None:
    url = f"{store.rstrip('/')}/{model}/{version}/metrics.json"
    try:
        fs, path = fsspec.core.url_to_fs(url)
        if not fs.exists(path):
            evidence.missing.append(f"evaluation: {url} not found (sync the model directory)")
            return
        with fs.open(path) as fh:
            figures = json.load(fh)
    except Exception as exc:  # no credentials, no such bucket, store down: missing evidence, said plainly
        evidence.missing.append(f"evaluation: could not read {url} ({type(exc).__name__}: {exc})")
        return
    held_out = figures.get("held_out") or {}
    if held_out:
        shown = {k: round(v, 4) for k, v in held_out.items() if isinstance(v, float)}
        evidence.found.append(f"evaluation (held-out split): {shown}")
    else:
        evidence.missing.append("evaluation: metrics.json has no held-out figures")
    for independent in figures.get("independent") or []:  # each set's headline figures, not its tables
        shown = {k: round(v, 4) for k, v in independent.items() if isinstance(v, float)}
        evidence.found.append(f"evaluation (independent set {independent.get('set', '?')}): {shown}")


def _baseline(evidence: Evidence, baselines_url: str, model: str, version: str) -> None:
    try:
        exists = BaselineStore(baselines_url).exists(model, version)
    except Exception as exc:
        evidence.missing.append(f"baseline: could not read {baselines_url} ({type(exc).__name__}: {exc})")
        return
    if exists:
        evidence.found.append(f"baseline: {baselines_url}/{model}/{version}")
    else:
        evidence.missing.append(
            f"baseline: none for {model} {version} under {baselines_url} (run the baseline generator)"
        )


def gather_evidence(
    model: str,
    version: str,
    production_version: str,
    store: str,
    *,
    prometheus: str | None,
    metrics: str | None,
    baselines_url: str,
    min_rows: int,
    min_agreement: float,
    max_shadow_failures: float = 0.01,
    min_labels: int = 100,
    max_accuracy_drop: float = 0.01,
) -> Evidence:
    evidence = Evidence()
    pair = f"{version} against production's {production_version}"
    if prometheus is not None:
        fields = shadow_agreement_from_prometheus(prometheus, model, production_version, version)
        _shadow(evidence, fields, pair, min_rows, min_agreement, "every gateway pod, last hour, from Prometheus")
        mirrored = mirrored_from_prometheus(prometheus, model)
        _answered(evidence, mirrored, max_shadow_failures, "every gateway pod, last hour, from Prometheus")
        staging = labelled_from_prometheus(prometheus, model, "staging", version)
        production = labelled_from_prometheus(prometheus, model, "production", production_version)
        source = f"every gateway pod, last {LABELLED_WINDOW}, from Prometheus"
        _labelled(evidence, staging, production, min_labels, max_accuracy_drop, source)
    elif metrics is not None:
        text = read_metrics(metrics)
        fields = shadow_agreement(text, model, production_version, version)
        _shadow(evidence, fields, pair, min_rows, min_agreement, "ONE gateway process's /metrics, not the fleet")
        _answered(evidence, mirrored_from_metrics(text, model), max_shadow_failures, "ONE gateway process's /metrics")
        staging = labelled_from_metrics(text, model, "staging", version)
        production = labelled_from_metrics(text, model, "production", production_version)
        _labelled(evidence, staging, production, min_labels, max_accuracy_drop, "ONE gateway process's /metrics")
    else:
        evidence.missing.append(
            "shadow agreement: no --prometheus URL (PROMETHEUS_URL) nor --metrics source (one gateway's /metrics)"
        )
    _evaluation(evidence, store, model, version)
    _baseline(evidence, baselines_url, model, version)
    return evidence
