"""Users' labels joined with the predictions they name, over real inference and feedback logs on disk: the
latest label counts, excluded keys are dropped before that, unmatched labels are counted and not exported,
texts are checked against the prediction's hash, and the export file says what it holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from serving_common.features import compose_email_text, extract_features
from serving_common.inference_log.feedback import Label
from serving_common.inference_log.labelled import labelled_data, read_labelled, write_labelled
from serving_common.inference_log.records import LogRows, Prediction
from serving_common.inference_log.writer import InferenceLogWriter
from serving_common.tasks import SPAM

T0 = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
SALT = b"a-salt-of-sixteen-or-more"
TEXTS = [compose_email_text(t) for t in ("WIN a prize now, call 0800 123", "lunch at noon?", "meter reading due")]


def _predictions(root, request_id: str, when: datetime, version: str = "v1") -> None:
    writer = InferenceLogWriter(str(root), environment="staging", flush_seconds=60)
    writer.record(
        LogRows.of(
            SPAM,
            model_name="spam-detector",
            model_version=version,
            features=[extract_features(t) for t in TEXTS],
            predictions=[Prediction("spam", 0.9), Prediction("ham", 0.2), Prediction("spam", 0.7)],
            embeddings=None,
            projection_id=None,
            truncated=[False] * 3,
            request_id=request_id,
            texts=TEXTS,
            hash_salt=SALT,
            timestamp=when,
        )
    )
    writer.close()


def _labels(root, *labels: tuple[str, int, str, str | None, str | None, datetime]) -> None:
    writer = InferenceLogWriter(str(root), environment="staging", flush_seconds=60)
    for request_id, position, label, key, text, when in labels:
        row = Label(when, "spam-detector", None, "spam", request_id, position, label, None, key, text)
        writer.record(row.table())
    writer.close()


def test_the_latest_label_of_each_row_joins_its_prediction_and_keys_can_be_excluded(tmp_path):
    log, feedback = tmp_path / "inference-log", tmp_path / "feedback-log"
    _predictions(log, "batch-1", T0)
    _predictions(log, "old", T0 - timedelta(days=30))  # before the lookback
    later = T0 + timedelta(hours=2)
    _labels(
        feedback,
        ("batch-1", 0, "spam", "alice", TEXTS[0], later),
        ("batch-1", 1, "spam", "alice", None, later),
        ("batch-1", 1, "ham", "alice", TEXTS[1], later + timedelta(minutes=1)),  # replaces the one above
        ("batch-1", 2, "ham", "mallory", "not the text that was scored", later),
        ("batch-1", 0, "ham", "mallory", TEXTS[0], later + timedelta(minutes=5)),  # would replace alice's
        ("old", 0, "ham", "alice", None, later),
        ("nobody-answered", 0, "spam", "alice", None, later),
    )
    window = (T0, T0 + timedelta(days=1))

    everything = labelled_data(str(log), str(feedback), *window, hash_salt=SALT)
    rows = {(r["request_id"], r["position"]): r for r in everything.table.to_pylist()}
    assert set(rows) == {("batch-1", 0), ("batch-1", 1), ("batch-1", 2)}
    assert rows[("batch-1", 0)]["label"] == "ham" and rows[("batch-1", 0)]["key"] == "mallory"
    assert rows[("batch-1", 1)]["label"] == "ham" and rows[("batch-1", 1)]["predicted"] == "ham"
    assert rows[("batch-1", 1)]["model_version"] == "v1" and rows[("batch-1", 1)]["text_verified"] is True
    assert rows[("batch-1", 1)]["char_count"] == extract_features(TEXTS[1])["char_count"]  # the prediction's features
    assert rows[("batch-1", 2)]["text_verified"] is False  # a text that was never scored under this id
    report = everything.report
    assert (report.labels_read, report.superseded, report.unmatched, report.joined) == (7, 2, 2, 3)
    assert report.text_mismatch == 1 and report.unmatched_by_pair == {("staging", "spam-detector"): 2}

    honest = labelled_data(str(log), str(feedback), *window, exclude_keys={"mallory"}, hash_salt=SALT)
    rows = {(r["request_id"], r["position"]): r for r in honest.table.to_pylist()}
    assert set(rows) == {("batch-1", 0), ("batch-1", 1)}
    assert rows[("batch-1", 0)]["label"] == "spam" and rows[("batch-1", 0)]["key"] == "alice"
    assert honest.report.excluded == 2

    # The lookback reaches the old prediction when asked to.
    far = labelled_data(str(log), str(feedback), *window, lookback=timedelta(days=40))
    assert ("old", 0) in {(r["request_id"], r["position"]) for r in far.table.to_pylist()}
    assert far.table["text_verified"].null_count == far.table.num_rows  # no salt given: not checked

    path = tmp_path / "labelled.parquet"
    write_labelled(honest, str(path))
    table, about = read_labelled(str(path))
    assert table.num_rows == 2 and about["excluded_keys"] == ["mallory"] and about["excluded"] == 2
    assert about["start"] == T0.isoformat()


def test_reading_a_file_that_is_not_an_export_is_refused_by_name(tmp_path):
    _predictions(tmp_path / "log", "r", T0)
    part = next((tmp_path / "log").rglob("*.parquet"))
    with pytest.raises(ValueError, match="not a labelled-data export: it has no text column"):
        read_labelled(str(part))
