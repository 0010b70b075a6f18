"""One drift run: every (environment, model, model version) in the log's window against its baseline."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
from fsspec.implementations.local import LocalFileSystem

from drift_detector.detectors import SignalResult, TestConfig, run_tests
from drift_detector.labelled import count_labelled
from drift_detector.metrics import TEXTFILE_NAME, DriftMetrics
from drift_detector.report import plots_for, render_html, render_json
from drift_detector.settings import DriftSettings
from serving_common.baseline import BaselineNotFound, BaselineStore
from serving_common.inference_log.reader import InferenceLogReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    report: dict[str, Any]
    report_dir: str  # the run's directory under reports_dir (a path, or a URL such as s3://...)
    textfile: Path | None  # the node-exporter textfile, when written (a local directory)


def window_bounds(settings: DriftSettings) -> tuple[datetime, datetime]:
    end = settings.window_end or datetime.now(UTC) - timedelta(minutes=settings.window_lag_minutes)
    end = end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)
    start = settings.window_start or end - timedelta(minutes=settings.window_minutes)
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    if start >= end:
        raise ValueError(f"the window starts ({start.isoformat()}) at or after its end ({end.isoformat()})")
    return start, end


def drifted_signals(results: list[SignalResult]) -> list[str]:
    names = []
    for r in results:
        if r.drifted:
            names += [f"features:{f}" for f in r.drifted_features] if r.signal == "features" else [r.signal]
    return names


def run(settings: DriftSettings) -> RunOutcome:
    started = time.perf_counter()
    start, end = window_bounds(settings)
    reader = InferenceLogReader(settings.inference_log_url)
    store = BaselineStore(settings.baselines_url)
    metrics = DriftMetrics()
    config = TestConfig(
        settings.p_value,
        settings.max_reference_rows,
        settings.max_window_rows,
        settings.mmd_permutations,
        settings.seed,
    )
    checks: list[dict[str, Any]] = []
    images: dict[str, list[str]] = {}
    unreadable_total = 0
    for env, model in reader.pairs():
        if (settings.environments and env not in settings.environments) or (
            settings.models and model not in settings.models
        ):
            continue
        window = reader.window(env, model, start, end)
        unreadable_total += len(window.unreadable)
        metrics.unreadable.labels(env, model).set(len(window.unreadable))
        versions = sorted(set(window.table["model_version"].to_pylist())) or [""]
        for version in versions:
            live = window.table.filter(pc.equal(window.table["model_version"], version)) if version else window.table
            check = _check(env, model, version, live, store, settings, config, metrics, images)
            check["unreadable_files"] = window.unreadable
            checks.append(check)
    report = {
        "window": {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "minutes": (end - start).total_seconds() / 60,
            "lag_minutes": None if settings.window_end else settings.window_lag_minutes,
        },
        "settings": {"p_value": settings.p_value, "min_samples": settings.min_samples, "seed": settings.seed},
        "inference_log": settings.inference_log_url,
        "baselines": settings.baselines_url,
        "drift": any(c.get("drift") for c in checks),
        "unreadable_files": unreadable_total,
        "checks": checks,
        "labelled": count_labelled(settings, end, metrics) if settings.feedback_log_url else None,
        "generated_at": datetime.now(UTC).isoformat(),
    }
    metrics.duration.set(time.perf_counter() - started)
    metrics.last_success.set_to_current_time()
    stamp = end.strftime("%Y%m%dT%H%M%SZ")
    # The reports go wherever reports_dir points: a directory (the CronJob's volume) or object storage.
    fs, root = fsspec.core.url_to_fs(settings.reports_dir)
    root = root.rstrip("/")
    fs.makedirs(f"{root}/{stamp}", exist_ok=True)
    written = {
        "report.json": render_json(report).encode(),
        "report.html": render_html(report, images).encode(),
        TEXTFILE_NAME: metrics.exposition(),  # the run's metrics beside its report
    }
    for name, data in written.items():
        fs.pipe_file(f"{root}/{stamp}/{name}", data)
    for name in ("report.json", "report.html"):
        fs.pipe_file(f"{root}/latest-{name}", written[name])
    # node-exporter's textfile collector reads a local directory: the textfile dir, else a local reports dir.
    local = isinstance(fs, LocalFileSystem)
    textfile_dir = settings.textfile_dir or (settings.reports_dir if local else None)
    textfile = metrics.write_textfile(textfile_dir) if textfile_dir else None
    if settings.pushgateway_url:
        metrics.push(settings.pushgateway_url)
    return RunOutcome(report, f"{settings.reports_dir.rstrip('/')}/{stamp}", textfile)


def _check(
    env: str,
    model: str,
    version: str,
    live: pa.Table,
    store: BaselineStore,
    settings: DriftSettings,
    config: TestConfig,
    metrics: DriftMetrics,
    images: dict[str, list[str]],
) -> dict[str, Any]:
    labels = (env, model, version)
    check: dict[str, Any] = {
        "key": f"{env}/{model}/{version}",
        "environment": env,
        "model": model,
        "model_version": version or None,
        "window_rows": live.num_rows,
    }
    metrics.samples.labels(*labels).set(live.num_rows)
    if live.num_rows < settings.min_samples:
        detail = f"{live.num_rows} rows in the window, fewer than min_samples={settings.min_samples}"
        log.info("%s/%s: insufficient data (%s)", env, model, detail)
        metrics.status.labels(*labels, "insufficient_data").set(1)
        return {**check, "status": "insufficient_data", "detail": detail, "drift": None}
    try:
        baseline, reference = store.read(model, version)
    except BaselineNotFound as exc:
        log.warning("%s/%s: %s", env, model, exc.message)
        metrics.status.labels(*labels, "no_baseline").set(1)
        return {**check, "status": "no_baseline", "detail": exc.message, "drift": None}
    projections = set(pc.unique(live["embedding_projection"].drop_null()).to_pylist())
    results = run_tests(reference, live, config, embeddings_comparable=projections <= {baseline.embedding_projection})
    moved = drifted_signals(results)
    metrics.status.labels(*labels, "ok").set(1)
    for r in results:
        if r.skipped:
            continue
        metrics.detected.labels(*labels, r.signal).set(int(r.drifted))
        metrics.p_value.labels(*labels, r.signal, "").set(r.p_value)
        metrics.distance.labels(*labels, r.signal, "").set(r.distance)
        for feature, fr in r.features.items():
            metrics.p_value.labels(*labels, r.signal, feature).set(fr.p_value)
            metrics.distance.labels(*labels, r.signal, feature).set(fr.distance)
    images[check["key"]] = plots_for(results, reference, live)
    log.info("%s/%s %s: %s", env, model, version, f"drift in {', '.join(moved)}" if moved else "no drift")
    return {
        **check,
        "status": "ok",
        "detail": "",
        "baseline_version": baseline.baseline_version,
        "samples": {
            "reference": min(reference.num_rows, settings.max_reference_rows),
            "live": min(live.num_rows, settings.max_window_rows),
        },
        "drift": bool(moved),
        "drifted_signals": moved,
        "signals": [r.to_dict() for r in results],
    }
