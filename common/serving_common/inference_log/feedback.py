"""What the feedback log holds: the true labels users send back for earlier predictions.

It sits beside the inference log and is laid out like it (``environment=/model=/date=/hour=``, Parquet,
written by the same bounded writer). A row is joined to its prediction's row by ``request_id`` (and
``position``, a batch request's row); the latest label of a (request id, position) is the one that counts.
``key`` names the API key that sent it (never the key itself), so an export can leave a key's labels out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import pyarrow as pa

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
    ]
)


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

    def table(self) -> pa.Table:
        """This label as a one-row table in :data:`FEEDBACK_SCHEMA`."""
        return pa.Table.from_pylist([asdict(self)], schema=FEEDBACK_SCHEMA)
