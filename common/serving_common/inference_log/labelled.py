"""Users' labels joined with the predictions they label: the retraining export and the quality figures
that count every label.

A label (a feedback-log row) names its prediction by ``request_id`` and ``position``; the prediction's row
is in the inference log of the same environment and model, written by whichever transformer replica
answered. The join reads the labels given in a window and the predictions of that window and a lookback
before it (a user labels a message hours or days after it was scored):

- the **latest** label of a (request id, position) counts, as it does live;
- labels sent with an **excluded key** are dropped first, so a flooding or poisoning key can neither add
  rows nor replace another key's label;
- a label whose prediction is not found (outside the lookback, or a request id nobody answered) is
  counted as unmatched and not exported: a training row is always a message the platform scored;
- ``text_verified``: with the log's hash salt, whether the label's text is the text that was scored (its
  salted hash equals the prediction row's ``text_hash``); null when either side has no hash.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from serving_common.features import FEATURE_NAMES
from serving_common.inference_log.feedback import FEEDBACK_SCHEMA, conform_feedback
from serving_common.inference_log.reader import InferenceLogReader
from serving_common.inference_log.records import salted_hash

__all__ = [
    "DEFAULT_LOOKBACK",
    "LABELLED_SCHEMA",
    "JoinReport",
    "Labelled",
    "join_labels",
    "labelled_data",
    "read_labelled",
    "write_labelled",
]

# How far before a label its prediction is looked for.
DEFAULT_LOOKBACK = timedelta(days=7)

LABELLED_SCHEMA = pa.schema(
    [
        pa.field("environment", pa.string(), nullable=False),
        pa.field("model_name", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("position", pa.int32(), nullable=False),
        pa.field("predicted_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("labelled_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("predicted", pa.string(), nullable=False),  # the model's verdict
        pa.field("probability", pa.float64(), nullable=False),
        pa.field("label", pa.string(), nullable=False),  # the user's true label
        pa.field("key", pa.string()),  # the API key's name that sent the label
        pa.field("text", pa.string()),  # the text the model read, when the labeller sent it
        pa.field("text_verified", pa.bool_()),
        *(pa.field(name, pa.float64(), nullable=False) for name in FEATURE_NAMES),
    ]
)


@dataclass
class JoinReport:
    """What a join read and kept, per the rules in the module's docstring."""

    labels_read: int = 0
    excluded: int = 0  # sent with an excluded key
    superseded: int = 0  # replaced by a later label of the same row
    unmatched: int = 0  # no prediction found for the row
    joined: int = 0
    with_text: int = 0
    text_mismatch: int = 0  # text_verified false
    excluded_keys: list[str] = field(default_factory=list)
    unmatched_by_pair: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, other: JoinReport) -> None:
        for name in ("labels_read", "excluded", "superseded", "unmatched", "joined", "with_text", "text_mismatch"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.unmatched_by_pair.update(other.unmatched_by_pair)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["unmatched_by_pair"] = {f"{e}/{m}": n for (e, m), n in sorted(self.unmatched_by_pair.items())}
        return d


@dataclass
class Labelled:
    """Joined rows in :data:`LABELLED_SCHEMA` and what the join did."""

    table: pa.Table
    report: JoinReport
    start: datetime
    end: datetime


def _latest(labels: list[dict[str, Any]], report: JoinReport) -> dict[tuple[str, int], dict[str, Any]]:
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for row in sorted(labels, key=lambda r: r["timestamp"]):
        row_key = (row["request_id"], row["position"])
        if row_key in latest:
            report.superseded += 1
        latest[row_key] = row
    return latest


def join_labels(
    environment: str,
    labels: pa.Table,
    predictions: pa.Table,
    *,
    exclude_keys: Collection[str] = (),
    hash_salt: bytes | None = None,
) -> tuple[pa.Table, JoinReport]:
    """One environment and model's labels (:data:`FEEDBACK_SCHEMA`) joined with its predictions (the
    inference log's rows)."""
    report = JoinReport(labels_read=labels.num_rows, excluded_keys=sorted(exclude_keys))
    kept = [r for r in labels.to_pylist() if r["key"] is None or r["key"] not in exclude_keys]
    report.excluded = labels.num_rows - len(kept)
    latest = _latest(kept, report)
    wanted = pa.array(sorted({request_id for request_id, _ in latest}), pa.string())
    found = predictions.filter(pc.is_in(predictions["request_id"], value_set=wanted)) if len(wanted) else None
    by_row: dict[tuple[str, int], dict[str, Any]] = {}
    if found is not None:
        for p in found.to_pylist():
            by_row[(p["request_id"], p["position"] or 0)] = p  # rows logged before positions: single predictions
    rows = []
    for row_key, label in latest.items():
        prediction = by_row.get(row_key)
        if prediction is None:
            report.unmatched += 1
            report.unmatched_by_pair[(environment, label["model_name"])] += 1
            continue
        text = label["text"]
        verified = None
        if text is not None and hash_salt and prediction["text_hash"]:
            verified = salted_hash(text, hash_salt) == prediction["text_hash"]
            report.text_mismatch += not verified
        report.with_text += text is not None
        rows.append(
            {
                "environment": environment,
                "model_name": prediction["model_name"],
                "model_version": prediction["model_version"],
                "request_id": label["request_id"],
                "position": label["position"],
                "predicted_at": prediction["timestamp"],
                "labelled_at": label["timestamp"],
                "predicted": prediction["label"],
                "probability": prediction["probability"],
                "label": label["label"],
                "key": label["key"],
                "text": text,
                "text_verified": verified,
                **{name: prediction[name] for name in FEATURE_NAMES},
            }
        )
    report.joined = len(rows)
    return pa.Table.from_pylist(rows, schema=LABELLED_SCHEMA), report


def labelled_data(
    log_url: str,
    feedback_url: str,
    start: datetime,
    end: datetime,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
    environments: Iterable[str] = (),
    models: Iterable[str] = (),
    exclude_keys: Collection[str] = (),
    hash_salt: bytes | None = None,
) -> Labelled:
    """Every label given in [start, end) joined with its prediction, across the feedback log's
    (environment, model) pairs (only ``environments`` and ``models`` when named)."""
    feedback = InferenceLogReader(feedback_url, conform=conform_feedback, schema=FEEDBACK_SCHEMA)
    log = InferenceLogReader(log_url)
    only_envs, only_models = set(environments), set(models)
    tables, report = [], JoinReport(excluded_keys=sorted(exclude_keys))
    for env, model in feedback.pairs():
        if (only_envs and env not in only_envs) or (only_models and model not in only_models):
            continue
        labels = feedback.window(env, model, start, end).table
        if not labels.num_rows:
            continue
        predictions = log.window(env, model, start - lookback, end).table
        table, pair_report = join_labels(env, labels, predictions, exclude_keys=exclude_keys, hash_salt=hash_salt)
        tables.append(table)
        report.add(pair_report)
    table = pa.concat_tables(tables) if tables else LABELLED_SCHEMA.empty_table()
    return Labelled(table, report, start, end)


_REPORT_KEY = b"textserve.labelled"


def write_labelled(labelled: Labelled, url: str) -> None:
    """The joined rows as one Parquet file (a path or an fsspec URL), with the join's window and report in
    its metadata, so whatever trains on it can say what it used."""
    about = {"start": labelled.start.isoformat(), "end": labelled.end.isoformat(), **labelled.report.as_dict()}
    table = labelled.table.replace_schema_metadata({_REPORT_KEY: json.dumps(about).encode()})
    with fsspec.open(url, "wb") as fh:
        pq.write_table(table, fh)


def read_labelled(url: str) -> tuple[pa.Table, dict[str, Any]]:
    """An export's rows and what the join said about them (empty when the file has no such metadata).
    ValueError when the file lacks the export's columns."""
    with fsspec.open(url, "rb") as fh:
        table = pq.read_table(fh)
    missing = [name for name in ("text", "label", "request_id", "position") if name not in table.column_names]
    if missing:
        raise ValueError(f"{url} is not a labelled-data export: it has no {', '.join(missing)} column")
    raw = (table.schema.metadata or {}).get(_REPORT_KEY)
    return table, json.loads(raw) if raw else {}
