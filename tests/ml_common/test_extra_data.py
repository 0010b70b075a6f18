"""Users' labelled rows as extra training data: training split only, never a held-out text, and what
was skipped or dropped said by reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from ml_common.datasets import Example, stratified_split
from ml_common.extra_data import FEEDBACK_SOURCE, ExtraData
from serving_common.features import FEATURE_NAMES
from serving_common.inference_log.labelled import LABELLED_SCHEMA, JoinReport, Labelled, write_labelled

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def write_export(path: Path, rows: list[tuple[str | None, str, bool | None]], excluded=("flooder",)) -> Path:
    """An export as ``make labelled-data`` writes it: (text, label, text_verified) per row."""
    table = pa.Table.from_pylist(
        [
            {
                "environment": "production",
                "model_name": "spam-detector",
                "model_version": "v1",
                "request_id": f"r{i}",
                "position": 0,
                "predicted_at": T0,
                "labelled_at": T0,
                "predicted": "ham",
                "probability": 0.2,
                "label": label,
                "key": "mail-ui",
                "text": text,
                "text_verified": verified,
                **dict.fromkeys(FEATURE_NAMES, 0.0),
            }
            for i, (text, label, verified) in enumerate(rows)
        ],
        schema=LABELLED_SCHEMA,
    )
    write_labelled(Labelled(table, JoinReport(excluded_keys=list(excluded)), T0, T0.replace(day=4)), str(path))
    return path


def test_labelled_rows_join_the_training_split_only_and_never_a_held_out_text(tmp_path):
    corpus = [Example(f"corpus message {i}", "spam" if i % 3 == 0 else "ham", "sms") for i in range(60)]
    splits = stratified_split(corpus, seed=3)
    held_out_text = splits.test[0].text
    path = write_export(
        tmp_path / "labelled.parquet",
        [
            ("Your invoice 4411 is attached, pay by Friday", "spam", True),
            ("Meter reading for unit 7 is due", "ham", None),  # not checked (no salt): used
            ("Meter reading for unit 7 is due", "ham", None),  # the same text twice: once
            (None, "spam", None),  # a label sent without its message cannot train
            ("something else than was scored", "ham", False),
            ("a label the model does not have", "eggs", True),
            (held_out_text.upper(), "spam", True),  # a test text, even re-cased, stays out of training
            (splits.train[0].text, splits.train[0].label, True),  # already there
        ],
    )
    extra = ExtraData.read(path, ["ham", "spam"])
    assert extra.record["skipped"] == {
        "no_text": 1,
        "text_differs_from_the_scored_one": 1,
        "label_not_the_model's": 1,
    }
    assert extra.record["export"]["excluded_keys"] == ["flooder"] and len(extra.record["sha256"]) == 64

    with_extra, record = extra.into_training(splits)
    added = [ex for ex in with_extra.train if ex.source == FEEDBACK_SOURCE]
    assert sorted(ex.text for ex in added) == [
        "Meter reading for unit 7 is due",
        "Your invoice 4411 is attached, pay by Friday",
    ]
    assert with_extra.validation == splits.validation and with_extra.test == splits.test
    assert record["used"] == 2 and record["labels"] == {"ham": 1, "spam": 1}
    assert record["dropped"] == {
        "repeated_or_conflicting_in_the_export": 1,
        "in_validation_or_test": 1,
        "already_in_training": 1,
    }
