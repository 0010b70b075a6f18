"""Users' labels in the drift job, over real logs on disk: every run counts the last window's labels
against their predictions as gauges (whichever replica took them), and ``labelled-data`` exports the
joined rows, leaving out the keys it is told to."""

from __future__ import annotations

from datetime import timedelta

import pyarrow.parquet as pq
from prometheus_client.parser import text_string_to_metric_families

from drift_detector.__main__ import main
from drift_detector.run import run
from serving_common.features import extract_features
from serving_common.inference_log.feedback import Label
from serving_common.inference_log.records import Prediction, build_table
from serving_common.inference_log.writer import InferenceLogWriter
from serving_common.tasks import SPAM
from tests.drift_detector.test_drift_detector import END, settings

TEXTS = ["WIN a prize now", "lunch at noon?", "meter reading due", "FREE entry, text WIN"]
VERDICTS = ["spam", "ham", "spam", "spam"]


def _write(root, *tables) -> None:
    writer = InferenceLogWriter(str(root), environment="staging", flush_seconds=60)
    for table in tables:
        writer.record(table)
    writer.close()


def _logs(root) -> None:
    predicted_at = END - timedelta(hours=30)  # before the labels' window: found through the lookback
    # No embeddings, as from a model without one: the drift environment's pyarrow reads such rows back.
    predictions = build_table(
        SPAM,
        model_name="spam-detector",
        model_version="v1",
        features=[extract_features(t) for t in TEXTS],
        predictions=[Prediction(v, 0.9 if v == "spam" else 0.1) for v in VERDICTS],
        embeddings=None,
        projection_id=None,
        truncated=[False] * 4,
        request_id="batch-1",
        timestamp=predicted_at,
    )
    _write(root / "log", predictions)
    truth = ["spam", "ham", "ham", "spam"]  # the model called row 2 spam: one false positive
    labels = [
        Label(END - timedelta(hours=2), "spam-detector", None, "spam", "batch-1", i, t, None, "mail-ui", TEXTS[i])
        for i, t in enumerate(truth)
    ]
    flood = Label(END - timedelta(hours=1), "spam-detector", None, "spam", "batch-1", 1, "spam", None, "flooder", None)
    stale = Label(END - timedelta(hours=1), "spam-detector", None, "spam", "gone", 0, "ham", None, "mail-ui", None)
    _write(root / "feedback", *(label.table() for label in [*labels, flood, stale]))


def test_each_run_counts_the_labelled_window_and_the_export_leaves_out_excluded_keys(tmp_path, capsys):
    _logs(tmp_path)
    outcome = run(settings(tmp_path, feedback_log_url=str(tmp_path / "feedback")))
    counts = {}
    for family in text_string_to_metric_families(outcome.textfile.read_text()):
        for s in family.samples:
            if s.name == "textserve_labelled_rows":
                counts[(s.labels["model_version"], s.labels["predicted"], s.labels["actual"])] = s.value
            if s.name == "textserve_labelled_unmatched_rows":
                assert s.labels["model"] == "spam-detector" and s.value == 1
    # The flooder's later label replaced row 1's: the job counts what the export would hold.
    assert counts == {("v1", "spam", "spam"): 2, ("v1", "spam", "ham"): 1, ("v1", "ham", "spam"): 1}
    assert outcome.report["labelled"]["joined"] == 4 and outcome.report["labelled"]["superseded"] == 1

    out = tmp_path / "labelled.parquet"
    args = ["--inference-log-url", str(tmp_path / "log"), "--feedback-log-url", str(tmp_path / "feedback")]
    args += ["--until", END.isoformat(), "--days", "1", "--out", str(out)]
    assert main(["labelled-data", *args, "--exclude-key", "flooder"]) == 0
    assert "4 labelled rows (4 with text" in capsys.readouterr().out
    rows = pq.read_table(out).to_pylist()
    assert sorted((r["position"], r["label"], r["key"]) for r in rows) == [
        (0, "spam", "mail-ui"),
        (1, "ham", "mail-ui"),
        (2, "ham", "mail-ui"),
        (3, "spam", "mail-ui"),
    ]
    assert rows[0]["text"] in TEXTS and rows[0]["model_version"] == "v1"

    assert main(["labelled-data", "--out", str(out), "--inference-log-url", str(tmp_path / "log")]) == 2
    assert "no feedback log" in capsys.readouterr().err
