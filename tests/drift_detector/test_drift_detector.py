"""The drift detector in its own environment, against the real alibi-detect.

Baselines and log windows here are drawn from known distributions, written through the platform's
own log writer and baseline store, so every test knows which signal moved and which did not.
(tests/e2e/test_drift.py runs the same job on real traffic through the running platform.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from prometheus_client.parser import text_string_to_metric_families

from drift_detector.__main__ import main
from drift_detector.run import run, window_bounds
from drift_detector.settings import DriftSettings
from serving_common.baseline import BaselineMetadata, BaselineStore
from serving_common.embedding import EMBEDDING_DIM
from serving_common.features import FEATURE_NAMES
from serving_common.inference_log.records import Prediction, build_table, schema_for
from serving_common.inference_log.writer import InferenceLogWriter
from serving_common.tasks import INTENT, SPAM

VERSION = "v1-test"
PROJECTION = "rp-test"
END = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
IN_WINDOW = END - timedelta(minutes=20)


def draw(
    n: int,
    seed: int,
    *,
    length: float = 1.0,
    spam_share: float = 0.15,
    embedding_shift: float = 0.0,
    projection: str = PROJECTION,
    version: str = VERSION,
    when: datetime = IN_WINDOW,
) -> list[dict]:
    """Rows whose features, verdicts and embeddings come from independent, known distributions."""
    rng = np.random.default_rng(seed)
    chars = rng.lognormal(4.0, 0.5, n) * length
    features = [
        {
            "char_count": float(c),
            "word_count": float(round(c / 5)),
            "url_count": float(rng.binomial(1, 0.05)),
            "email_address_count": 0.0,
            "phone_number_count": float(rng.binomial(1, 0.1)),
            "uppercase_ratio": float(rng.beta(2, 20)),
            "exclamation_count": float(rng.poisson(0.3)),
            "digit_ratio": float(rng.beta(1, 30)),
            "currency_symbol_count": float(rng.binomial(1, 0.05)),
            "spam_keyword_count": float(rng.poisson(0.5)),
        }
        for c in chars
    ]
    spam = rng.random(n) < spam_share
    predictions = [Prediction("spam", 0.9) if s else Prediction("ham", 0.05) for s in spam]
    embeddings = rng.normal(embedding_shift, 1.0, (n, EMBEDDING_DIM)).astype(np.float32)
    return build_table(
        SPAM,
        model_name="spam-detector",
        model_version=version,
        features=features,
        predictions=predictions,
        embeddings=embeddings,
        projection_id=projection,
        truncated=[False] * n,
        timestamp=when,
    ).to_pylist()


def to_table(rows: list[dict]) -> pa.Table:
    """Rows in their task's log schema: the intent model's have its complexity columns."""
    return pa.Table.from_pylist(rows, schema=schema_for(INTENT if "complexity_level" in rows[0] else SPAM))


def draw_intents(n: int, seed: int, *, complex_share: float = 0.2) -> list[dict]:
    """Intent-model rows: intents drawn uniformly, complexity levels in known shares."""
    rng = np.random.default_rng(seed)
    rows = draw(n, seed)
    intents = ["translation", "summarization", "code_generation", "reasoning"]
    for row in rows:
        complex_ = rng.random() < complex_share
        score = float(rng.uniform(0.7, 1.0) if complex_ else rng.uniform(0.0, 0.6))
        row.update(
            model_name="intent-classifier",
            label=str(rng.choice(intents)),
            probability=0.8,
            complexity_score=score,
            complexity_level="complex" if complex_ else ("simple" if score < 0.33 else "moderate"),
        )
    return rows


def write_baseline(root, model_name: str, task: str, reference, labels: list[str]) -> None:
    BaselineStore(str(root / "baselines")).write(
        BaselineMetadata(
            model_name=model_name,
            model_version=VERSION,
            task=task,
            baseline_version="b-test",
            reference="synthetic",
            dataset_hash="0" * 64,
            rows=reference.num_rows,
            feature_names=list(FEATURE_NAMES),
            labels=labels,
            embedding_projection=PROJECTION,
            embedding_dim=EMBEDDING_DIM,
            created_at=END.isoformat(),
        ),
        reference,
        {},
        np.zeros((4, EMBEDDING_DIM), dtype=np.float32),
    )


def write_log(root, environment: str, rows: list[dict]) -> None:
    writer = InferenceLogWriter(str(root), environment=environment, flush_seconds=60)
    writer.record(to_table(rows))
    writer.close()


@pytest.fixture(scope="module")
def drift_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift")
    write_baseline(root, "spam-detector", "spam", to_table(draw(600, seed=1)), ["ham", "spam"])
    write_baseline(root, "intent-classifier", "intent", to_table(draw_intents(600, seed=11)), ["translation"])
    log = root / "log"
    write_log(log, "like-reference", draw(300, seed=2))
    write_log(log, "longer-texts", draw(300, seed=3, length=3.0))
    write_log(log, "all-spam", draw(300, seed=4, spam_share=1.0))
    write_log(log, "new-topics", draw(300, seed=5, embedding_shift=0.6))
    write_log(log, "small", draw(20, seed=6))
    write_log(log, "outside-window", draw(300, seed=7, when=END - timedelta(hours=3)))
    write_log(log, "new-version", draw(300, seed=8, version="v2-unseen"))
    write_log(log, "other-projection", draw(300, seed=9, projection="rp-other"))
    write_log(log, "corrupt-file", draw(300, seed=10))
    [part] = (log / "environment=corrupt-file").rglob("*.parquet")
    (part.parent / "part-broken.parquet").write_bytes(b"PAR1 not really parquet")
    write_log(log, "harder-prompts", draw_intents(300, seed=12, complex_share=0.6))
    return root


def settings(root, **overrides) -> DriftSettings:
    defaults = {
        "inference_log_url": str(root / "log"),
        "baselines_url": str(root / "baselines"),
        "reports_dir": str(root / "reports"),
        "window_end": END,
        "window_minutes": 60,
        "mmd_permutations": 50,
    }
    return DriftSettings(**{**defaults, **overrides})


@pytest.fixture(scope="module")
def outcome(drift_dirs):
    return run(settings(drift_dirs))


def check(outcome, environment: str) -> dict:
    [found] = [c for c in outcome.report["checks"] if c["environment"] == environment]
    return found


def test_a_window_drawn_like_the_reference_shows_no_drift(outcome):
    result = check(outcome, "like-reference")
    assert result["status"] == "ok" and result["drift"] is False and result["drifted_signals"] == []
    assert {s["signal"] for s in result["signals"]} == {"features", "label", "embedding"}


def test_longer_texts_move_the_length_features_only(outcome):
    result = check(outcome, "longer-texts")
    assert result["drift"] is True
    assert set(result["drifted_signals"]) == {"features:char_count", "features:word_count"}


def test_all_spam_traffic_moves_the_label_only(outcome):
    assert check(outcome, "all-spam")["drifted_signals"] == ["label"]


def test_a_new_vocabulary_moves_the_embedding_only(outcome):
    assert check(outcome, "new-topics")["drifted_signals"] == ["embedding"]


def test_harder_prompts_move_the_complexity_level_only(outcome):
    result = check(outcome, "harder-prompts")
    assert result["model"] == "intent-classifier"
    assert {s["signal"] for s in result["signals"]} == {"features", "label", "complexity_level", "embedding"}
    assert result["drifted_signals"] == ["complexity_level"]


def test_small_and_empty_windows_report_insufficient_data(outcome):
    small, empty = check(outcome, "small"), check(outcome, "outside-window")
    assert small["status"] == empty["status"] == "insufficient_data"
    assert small["window_rows"] == 20 and empty["window_rows"] == 0 and small["drift"] is None


def test_a_model_version_without_a_baseline_is_reported_not_guessed(outcome):
    result = check(outcome, "new-version")
    assert result["status"] == "no_baseline" and result["model_version"] == "v2-unseen"


def test_embeddings_from_another_projection_are_not_compared(outcome):
    result = check(outcome, "other-projection")
    [embedding] = [s for s in result["signals"] if s["signal"] == "embedding"]
    assert embedding["skipped"] and not embedding["drifted"]


def test_an_unreadable_file_is_skipped_and_counted(outcome):
    result = check(outcome, "corrupt-file")
    assert result["status"] == "ok" and result["window_rows"] == 300 and result["drift"] is False
    assert [p.rsplit("/", 1)[-1] for p in result["unreadable_files"]] == ["part-broken.parquet"]
    assert outcome.report["unreadable_files"] == 1


def test_the_same_window_gives_the_same_result(drift_dirs, outcome):
    again = run(settings(drift_dirs, reports_dir=str(drift_dirs / "reports-again")))
    assert again.report["checks"] == outcome.report["checks"]


def test_reports_and_metrics_are_written(outcome):
    report = json.loads((Path(outcome.report_dir) / "report.json").read_text())
    assert report["drift"] is True and report["window"]["end"] == END.isoformat()
    html = (Path(outcome.report_dir) / "report.html").read_text()
    assert "all-spam / spam-detector" in html and html.count("<img") >= 4  # label, 2 features, embedding
    samples = {}
    detected = {}
    for family in text_string_to_metric_families(outcome.textfile.read_text()):
        for s in family.samples:
            if s.name == "textserve_drift_detected":
                detected[(s.labels["environment"], s.labels["signal"])] = s.value
            samples[s.name] = s.value
    assert detected[("all-spam", "label")] == 1 and detected[("like-reference", "label")] == 0
    assert samples["textserve_drift_last_success_timestamp_seconds"] > 0
    assert samples["textserve_drift_unreadable_files"] in (0, 1)


def test_without_an_end_the_window_ends_its_lag_before_now(drift_dirs):
    # The CronJob's lag: rows a transformer still buffers (or retries while the store is down) when a run
    # starts belong to an hour that run does not read yet; the next run's window would leave them out for good.
    before = datetime.now(UTC)
    start, end = window_bounds(settings(drift_dirs, window_end=None, window_lag_minutes=15))
    after = datetime.now(UTC)
    assert before - timedelta(minutes=15) <= end <= after - timedelta(minutes=15)
    assert end - start == timedelta(minutes=60)
    # An end given is the end, lag or not: a window re-run is the same window.
    assert window_bounds(settings(drift_dirs, window_lag_minutes=15)) == (END - timedelta(minutes=60), END)


def test_exit_status_is_zero_with_drift_and_one_when_the_job_fails(drift_dirs, tmp_path, capsys):
    args = [
        "--inference-log-url",
        str(drift_dirs / "log"),
        "--baselines-url",
        str(drift_dirs / "baselines"),
        "--window-end",
        END.isoformat(),
        "--environment",
        "all-spam",
    ]
    assert main([*args, "--reports-dir", str(tmp_path / "ok")]) == 0
    assert "DRIFT in label" in capsys.readouterr().out
    blocked = tmp_path / "a-file"
    blocked.write_text("reports cannot go below a file")
    assert main([*args, "--reports-dir", str(blocked)]) == 1
    assert main([*args, "--min-samples", "1"]) == 2  # invalid settings: a clear message, not a traceback
    assert "min_samples" in capsys.readouterr().err


def test_the_drift_dashboard_reads_only_metrics_the_job_writes(outcome):
    from tests.deploy.dashboards import dashboard_exprs, metric_names

    written = {s.name for f in text_string_to_metric_families(outcome.textfile.read_text()) for s in f.samples}
    wanted = {name for expr in dashboard_exprs()["drift.json"] for name in metric_names(expr)}
    assert wanted and wanted <= written, sorted(wanted - written)
