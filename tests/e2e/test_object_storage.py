"""The durable path through object storage, against an S3-compatible server process on loopback (moto's, as
s3fs's own tests run it), reached as S3 is in a cluster: s3fs with the usual AWS variables.

Models are uploaded to the store and served from it (copied out as KServe's storage initializer does),
two transformer replicas write the same inference-log partition at once, the baseline generator and the
drift job read and write through it, the store goes away mid-run and comes back (and no row sent meanwhile is
lost), and no process ever logs its secret."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from devstack.object_store import ObjectStore
from devstack.traffic import reference_texts, shifted_texts
from serving_common.inference_log.reader import InferenceLogReader
from serving_common.model_dir import read_metadata
from tests.e2e.conftest import extra_pair, transformer_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DRIFT_PYTHON = Path(os.environ.get("DRIFT_PYTHON", ROOT / ".venv-drift" / "bin" / "python"))
MODELS = "s3://textserve-models"
LOG = "s3://textserve-inference-log"
BASELINES = "s3://textserve-models/baselines"
REPORTS = "s3://textserve-drift-reports/reports"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    logs = tmp_path_factory.mktemp("object-store")
    with ObjectStore(logs) as server, pytest.MonkeyPatch.context() as patch:
        for key, value in server.env().items():
            patch.setenv(key, value)  # this process reaches it as every service does: the AWS variables
        yield server


def _run(argv: list[str], store: ObjectStore, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env={**os.environ, **store.env()}, capture_output=True, text=True, timeout=300, **kwargs
    )


@pytest.fixture(scope="module")
def served_version(store, model_dir, tmp_path_factory):
    """The tiny model uploaded with `make sync-model`'s command, then copied out of the store the way
    KServe's storage initializer copies storageUri to /mnt/models."""
    done = _run(
        [sys.executable, "-m", "model_release", "sync", "--model-dir", str(model_dir), "--store", MODELS], store
    )
    assert done.returncode == 0, done.stderr
    uri = done.stdout.strip()
    version = read_metadata(model_dir).version
    assert uri == f"{MODELS}/spam-detector/{version}"
    mounted = tmp_path_factory.mktemp("mnt") / "models"
    store.filesystem().get(uri.removeprefix("s3://") + "/", str(mounted), recursive=True)
    return uri, mounted


def test_sync_uploads_a_version_and_never_overwrites_one(store, served_version, model_dir, tmp_path):
    uri, _ = served_version
    stored = {Path(p).name for p in store.filesystem().ls(uri.removeprefix("s3://"))}
    assert stored == {p.name for p in model_dir.iterdir() if p.is_file()}
    again = _run(
        [sys.executable, "-m", "model_release", "sync", "--model-dir", str(model_dir), "--store", MODELS], store
    )
    assert again.returncode == 0 and again.stdout.strip() == uri  # the same bytes: nothing to do
    changed = tmp_path / "changed"
    shutil.copytree(model_dir, changed)
    (changed / "config.json").write_text((changed / "config.json").read_text() + "\n")
    refused = _run(
        [sys.executable, "-m", "model_release", "sync", "--model-dir", str(changed), "--store", MODELS], store
    )
    assert refused.returncode == 2 and "never overwritten" in refused.stderr
    assert (
        store.filesystem().cat(f"{uri.removeprefix('s3://')}/config.json") == (model_dir / "config.json").read_bytes()
    )


def _send(transformer_url: str, prefix: str, texts: list[str]) -> list[str]:
    """One request per text, each with its own request id; returns the ids answered 200."""
    ids = []
    with httpx.Client(timeout=30) as client:
        for i, text in enumerate(texts):
            request_id = f"{prefix}-{i}-{uuid.uuid4().hex[:6]}"
            answer = client.post(
                f"{transformer_url}/v1/models/spam-detector:predict",
                json={"instances": [{"text": text}]},
                headers={"X-Request-ID": request_id},
            )
            assert answer.status_code == 200, answer.text
            ids.append(request_id)
    return ids


def _logged_ids(environment: str, start: datetime, expected: int, timeout: float = 40.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        window = InferenceLogReader(LOG).window(
            environment, "spam-detector", start, datetime.now(UTC) + timedelta(minutes=1)
        )
        ids = window.table.column("request_id").to_pylist() if window.rows else []
        if len(ids) >= expected or time.monotonic() > deadline:
            return ids
        time.sleep(0.5)


@pytest.fixture(scope="module")
def replicas(store, served_version, tmp_path_factory):
    """Two transformer replicas in front of one predictor, serving the version from the store and logging the
    same environment to the same bucket, flushing every second (a cluster's transformer Deployment)."""
    _, mounted = served_version
    # One attempt per S3 call (botocore's own retries spend about 28 s on each refused connection): the
    # writer's own retry, at the next flush, is what the store going away tests.
    env = {**store.env(), "FEATURE_TRANSFORMER_INFERENCE_LOG_FLUSH_SECONDS": "1", "AWS_MAX_ATTEMPTS": "1"}
    args = ["--inference_log_url", LOG, "--environment", "production"]
    logs = tmp_path_factory.mktemp("replicas")
    with extra_pair("replica-a", logs, mounted, transformer_args=args, env=env) as (predictor, a):
        b = transformer_process("replica-b-transformer", logs, mounted, int(predictor.url.rsplit(":", 1)[1]), args, env)
        b.start()
        try:
            b.wait_ready(120)
            yield [a, b], [predictor, a, b]
        finally:
            b.stop()


def test_two_replicas_writing_one_partition_keep_every_row_exactly_once(replicas):
    (a, b), _ = replicas
    start = datetime.now(UTC)
    texts = reference_texts(60, seed=3)
    with ThreadPoolExecutor(2) as pool:
        sent = [*pool.submit(_send, a.url, "a", texts).result(), *pool.submit(_send, b.url, "b", texts).result()]
    logged = _logged_ids("production", start, len(sent))
    assert sorted(logged) == sorted(sent)  # every row there, none twice


def test_the_baseline_generator_and_the_drift_job_work_through_the_store(store, replicas, served_version, tmp_path):
    (a, b), _ = replicas
    _, mounted = served_version
    reference = tmp_path / "reference.jsonl"
    reference.write_text("\n".join(json.dumps({"text": t}) for t in reference_texts(300, split="validation")))
    baseline = _run(
        [
            sys.executable,
            "-m",
            "baseline_generator",
            "--model-dir",
            str(mounted),
            "--baselines-url",
            BASELINES,
            "--reference",
            str(reference),
        ],
        store,
    )
    assert baseline.returncode == 0, baseline.stderr[-2000:]
    version = read_metadata(mounted).version
    assert store.filesystem().exists(f"textserve-models/baselines/spam-detector/{version}/metadata.json")

    start = datetime.now(UTC)
    shifted = shifted_texts(120, seed=2)
    with ThreadPoolExecutor(2) as pool:
        sent = [
            *pool.submit(_send, a.url, "sa", shifted[:60]).result(),
            *pool.submit(_send, b.url, "sb", shifted[60:]).result(),
        ]
    assert len(_logged_ids("production", start, len(sent))) == len(sent)
    assert DRIFT_PYTHON.exists(), f"{DRIFT_PYTHON} missing: `make install` builds the drift environment"
    job = _run(
        [
            str(DRIFT_PYTHON),
            "-m",
            "drift_detector",
            "--inference-log-url",
            LOG,
            "--baselines-url",
            BASELINES,
            "--reports-dir",
            REPORTS,
            "--model",
            "spam-detector",
            "--environment",
            "production",
            "--window-start",
            start.isoformat(),
            "--window-end",
            (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
        ],
        store,
    )
    assert job.returncode == 0, job.stderr[-3000:]
    reports = store.filesystem()
    (check,) = json.loads(reports.cat(f"{REPORTS.removeprefix('s3://')}/latest-report.json"))["checks"]
    assert check["status"] == "ok" and check["window_rows"] == len(sent) and check["drift"] is True
    (run_dir,) = [d for d in reports.ls(REPORTS.removeprefix("s3://")) if not d.rsplit("/", 1)[1].startswith("latest")]
    assert {p.rsplit("/", 1)[1] for p in reports.ls(run_dir)} == {"report.json", "report.html", "textserve_drift.prom"}


def _counter(transformer_url: str, series: str) -> float:
    text = httpx.get(f"{transformer_url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(series))


def test_the_store_going_away_loses_no_rows_and_serving_goes_on(store, replicas):
    (a, _), _ = replicas
    dropped = 'inference_log_rows_dropped_total{reason="write_error"}'
    failures, dropped_before = _counter(a.url, "inference_log_write_failures_total "), _counter(a.url, dropped)
    start = datetime.now(UTC)
    store.stop()
    try:
        during = _send(a.url, "outage", reference_texts(20, seed=5))  # every answer a 200 while the store is down
        deadline = time.monotonic() + 60
        while _counter(a.url, "inference_log_write_failures_total ") < failures + 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _counter(a.url, "inference_log_write_failures_total ") >= failures + 2  # tried, and tried again
        assert _counter(a.url, "inference_log_buffered_rows ") >= 20  # held in memory, not dropped
    finally:
        store.start()  # the same port and credentials; moto's memory starts empty
    after = _send(a.url, "back", reference_texts(10, seed=6))
    logged = _logged_ids("production", start, len(during) + len(after))
    assert sorted(logged) == sorted(during + after)  # the outage's rows written once it was over, none twice
    assert _counter(a.url, dropped) == dropped_before


def test_no_process_logs_the_secret(store, replicas, tmp_path):
    _, processes = replicas
    assert store.secret_key not in store.process.log_text()
    for process in processes:
        assert store.secret_key not in process.log_text(), process.name
