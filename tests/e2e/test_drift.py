"""The drift job end to end: real traffic through the running platform into the inference log, a
baseline from the baseline-generator CLI, and the drift-detector CLI in its own environment (real
alibi-detect), as the hourly CronJob runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devstack.traffic import reference_texts, send, shifted_texts
from serving_common.inference_log.reader import InferenceLogReader

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DRIFT_PYTHON = Path(os.environ.get("DRIFT_PYTHON", ROOT / ".venv-drift" / "bin" / "python"))
LIVE_ROWS = 150


def _wait_for_rows(log_dir: Path, env: str, start: datetime, rows: int) -> None:
    reader = InferenceLogReader(str(log_dir))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if reader.window(env, "spam-detector", start, datetime.now(UTC) + timedelta(minutes=1)).rows >= rows:
            return
        time.sleep(0.5)
    raise AssertionError(f"{rows} rows for {env} never reached the inference log")


def test_reference_traffic_shows_no_drift_and_shifted_traffic_names_what_moved(
    stack, model_dirs, inference_log_dir, tmp_path
):
    assert DRIFT_PYTHON.exists(), f"{DRIFT_PYTHON} missing: `make install` builds the drift environment"
    reference = tmp_path / "reference.jsonl"
    reference.write_text("\n".join(json.dumps({"text": t}) for t in reference_texts(400, split="validation")))
    baselines = tmp_path / "baselines"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "baseline_generator",
            "--baselines-url",
            str(baselines),
            "--reference",
            str(reference),
            "--model-dir",
            str(model_dirs["staging"]),
            "--model-dir",
            str(model_dirs["production"]),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )

    start = datetime.now(UTC)
    assert send(stack.gateway_url, reference_texts(LIVE_ROWS, seed=1), "staging") == LIVE_ROWS
    assert send(stack.gateway_url, shifted_texts(LIVE_ROWS, seed=1), "production") == LIVE_ROWS
    _wait_for_rows(inference_log_dir, "staging", start, LIVE_ROWS)
    _wait_for_rows(inference_log_dir, "production", start, LIVE_ROWS)
    end = datetime.now(UTC) + timedelta(seconds=1)

    reports = tmp_path / "reports"
    job = subprocess.run(
        [
            str(DRIFT_PYTHON),
            "-m",
            "drift_detector",
            "--inference-log-url",
            str(inference_log_dir),
            "--baselines-url",
            str(baselines),
            "--reports-dir",
            str(reports),
            "--model",
            "spam-detector",
            "--window-start",
            start.isoformat(),
            "--window-end",
            end.isoformat(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert job.returncode == 0, job.stderr[-3000:]
    report = json.loads((reports / "latest-report.json").read_text())
    checks = {c["environment"]: c for c in report["checks"]}

    staging = checks["staging"]
    assert staging["status"] == "ok" and staging["window_rows"] == LIVE_ROWS
    assert staging["drift"] is False, staging["drifted_signals"]

    production = checks["production"]
    assert production["status"] == "ok" and production["drift"] is True
    moved = set(production["drifted_signals"])
    assert {"features:char_count", "features:word_count", "embedding"} <= moved, moved
    assert "DRIFT in" in job.stdout and "report.html" in job.stdout
    assert (reports / "textserve_drift.prom").read_text().count("textserve_drift_detected{") >= 6
