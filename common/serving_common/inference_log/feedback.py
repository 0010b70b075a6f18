"""What the feedback log holds: the true labels users send back for earlier predictions.

It sits beside the inference log and is laid out like it (``environment=/model=/date=/hour=``, Parquet,
written by the same bounded writer). A row is joined to its prediction's row by ``request_id`` (and
``position``, a batch request's row); the latest label of a (request id, position) is the one that counts.
``key`` names the API key that sent it (never the key itself), so an export can leave a key's labels out.
``text`` is the text the model reads (composed and normalised as served), present only when the labeller
sent the message with its label: the inference log stores no texts, so a label carries its own for
retraining (:mod:`.labelled`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import pyarrow as pa

from serving_common.inference_log.records import columns_of

FEEDBACK_SCHEMA = pa.schema(
    [
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("model_name", pa.string(), nullable=False),
        pa.field("model_version", pa.string()),  # null when the prediction was no longer remembered
        pa.field("task", pa.string(), nullable=False),
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("position", pa.int32(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("predicted", pa.string()),  # null when the prediction was no longer remembered
        pa.field("key", pa.string()),  # the API key's name; null with keys off
        pa.field("text", pa.string()),  # null unless the labeller sent the message
    ]
)


def conform_feedback(table: pa.Table) -> pa.Table:
    """A feedback file's table in :data:`FEEDBACK_SCHEMA`; a nullable column it predates (``text``) reads as
    nulls; KeyError when any other is missing."""
    return pa.Table.from_arrays(columns_of(table, FEEDBACK_SCHEMA), schema=FEEDBACK_SCHEMA)


@dataclass(frozen=True)
class Label:
    """One true label for a row of an earlier prediction, as the feedback log keeps it."""

    timestamp: datetime
    model_name: str
    model_version: str | None
    task: str
    request_id: str
    position: int
    label: str
    predicted: str | None
    key: str | None
    text: str | None = None

    def table(self) -> pa.Table:
        """This label as a one-row table in :data:`FEEDBACK_SCHEMA`."""
        return pa.Table.from_pylist([asdict(self)], schema=FEEDBACK_SCHEMA)
