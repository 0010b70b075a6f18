"""Every metric the drift job exports: written as a node-exporter textfile on every run, and pushed
to a Pushgateway when one is configured. A fresh registry per run: a pair that was not checked
this run leaves no stale value behind."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest, push_to_gateway

log = logging.getLogger(__name__)

JOB = "textserve-drift-detector"
TEXTFILE_NAME = "textserve_drift.prom"
PAIR = ["environment", "model", "model_version"]


class DriftMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.detected = Gauge(
            "textserve_drift_detected", "1 when the signal drifted in the last window.", [*PAIR, "signal"], registry=r
        )
        self.p_value = Gauge(
            "textserve_drift_p_value",
            "p-value of the signal's test (per feature for features).",
            [*PAIR, "signal", "feature"],
            registry=r,
        )
        self.distance = Gauge(
            "textserve_drift_distance",
            "Test statistic: KS distance, chi-square, or MMD².",
            [*PAIR, "signal", "feature"],
            registry=r,
        )
        self.samples = Gauge(
            "textserve_drift_window_samples", "Rows of the live window that were tested.", PAIR, registry=r
        )
        self.status = Gauge(
            "textserve_drift_check_status",
            "1 for the outcome of each pair's check: ok, insufficient_data, no_baseline.",
            [*PAIR, "status"],
            registry=r,
        )
        self.unreadable = Gauge(
            "textserve_drift_unreadable_files",
            "Inference-log files skipped as unreadable in the window.",
            ["environment", "model"],
            registry=r,
        )
        self.labelled = Gauge(
            "textserve_labelled_rows",
            "Users' labels of the last labelled window joined with their predictions: verdict against label, "
            "every label counted once whichever gateway replica took it.",
            [*PAIR, "predicted", "actual"],
            registry=r,
        )
        self.labelled_unmatched = Gauge(
            "textserve_labelled_unmatched_rows",
            "Labels of the last labelled window whose prediction was not found in the inference log.",
            ["environment", "model"],
            registry=r,
        )
        self.labelled_window = Gauge(
            "textserve_labelled_window_seconds", "Length of the window the labelled counts cover.", registry=r
        )
        self.last_success = Gauge(
            "textserve_drift_last_success_timestamp_seconds", "When the drift job last completed.", registry=r
        )
        self.duration = Gauge("textserve_drift_run_duration_seconds", "Wall time of the last drift run.", registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def write_textfile(self, directory: str | Path) -> Path:
        """Atomically (write, then rename), so the collector never reads half a file."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / TEXTFILE_NAME
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".textserve_drift.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.exposition())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        return target

    def push(self, url: str) -> None:
        push_to_gateway(url, job=JOB, registry=self.registry, timeout=10)
