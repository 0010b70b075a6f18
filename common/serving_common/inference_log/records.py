"""What the inference log holds, and how predictions become its rows.

Every row has the common columns of :data:`SCHEMA`; a task adds its own after them
(``ModelTask.log_columns``: the intent model's complexity score and level). A log partition holds one
model, so one task, so one schema. One function builds a model's rows, column by column, online
(feature transformer) and offline (baseline generator), so the baseline and the live window can be
compared column by column.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from serving_common.embedding import EMBEDDING_DIM
from serving_common.features import FEATURE_NAMES
from serving_common.tasks import AnyTask, LogType, Prediction

__all__ = ["SCHEMA", "Prediction", "build_table", "conform", "extra_columns", "salted_hash", "schema_for"]

_ARROW_TYPES: dict[LogType, pa.DataType] = {"float64": pa.float64(), "string": pa.string(), "bool": pa.bool_()}

# The columns every task's rows have. The partition keys (environment, model, date, hour) live in the path.
SCHEMA = pa.schema(
    [
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("model_name", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("request_id", pa.string()),
        *(pa.field(name, pa.float64(), nullable=False) for name in FEATURE_NAMES),
        pa.field("label", pa.string(), nullable=False),
        pa.field("probability", pa.float64(), nullable=False),
        pa.field("truncated", pa.bool_()),
        pa.field("embedding", pa.list_(pa.float32(), EMBEDDING_DIM)),
        pa.field("embedding_projection", pa.string()),
        pa.field("text_hash", pa.string()),
    ]
)


def schema_for(task: AnyTask) -> pa.Schema:
    """The common columns, then the task's own."""
    schema = SCHEMA
    for name, kind in task.log_columns.items():
        schema = schema.append(pa.field(name, _ARROW_TYPES[kind]))
    return schema


def extra_columns(table: pa.Table) -> list[str]:
    """The columns a table has beyond the common ones: its task's own."""
    return [name for name in table.column_names if name not in SCHEMA.names]


def conform(table: pa.Table) -> pa.Table:
    """The common columns cast to :data:`SCHEMA`'s types and first, the task's own after them as they are;
    KeyError when a common column is missing."""
    common = [table[name].cast(field.type) for name, field in zip(SCHEMA.names, SCHEMA, strict=True)]
    extras = extra_columns(table)
    fields = [*SCHEMA, *(table.schema.field(name) for name in extras)]
    return pa.Table.from_arrays([*common, *(table[name] for name in extras)], schema=pa.schema(fields))


def salted_hash(text: str, salt: bytes) -> str:
    """Keyed hash of a text: equal texts can be matched, the text itself is not recoverable."""
    return hmac.new(salt, text.encode(), hashlib.sha256).hexdigest()


def build_table(
    task: AnyTask,
    *,
    model_name: str,
    model_version: str,
    features: Sequence[dict[str, float]],
    predictions: Sequence[Prediction],
    embeddings: np.ndarray | None,
    projection_id: str | None,
    truncated: Sequence[bool],
    request_id: str | Sequence[str | None] | None = None,
    texts: Sequence[str] | None = None,
    hash_salt: bytes | None = None,
    timestamp: datetime | None = None,
) -> pa.Table:
    """One model's rows at one time, in :func:`schema_for` ``task``'s schema, built column by column.
    Texts are only hashed, and only when a salt is given.

    ``request_id`` is one id for every row, or one per row (rows of a coalesced call come from
    several callers, each with its own id)."""
    n = len(predictions)
    if len(features) != n or len(truncated) != n:
        raise ValueError(f"{n} predictions, {len(features)} feature rows, {len(truncated)} truncation flags")
    ids = [request_id] * n if request_id is None or isinstance(request_id, str) else list(request_id)
    columns: dict[str, Any] = {
        "timestamp": pa.array([timestamp or datetime.now(UTC)] * n, SCHEMA.field("timestamp").type),
        "model_name": pa.array([model_name] * n, pa.string()),
        "model_version": pa.array([model_version] * n, pa.string()),
        "request_id": pa.array(ids, pa.string()),
        **{name: pa.array([float(f[name]) for f in features], pa.float64()) for name in FEATURE_NAMES},
        "label": pa.array([p.label for p in predictions], pa.string()),
        "probability": pa.array([float(p.probability) for p in predictions], pa.float64()),
        "truncated": pa.array([bool(t) for t in truncated], pa.bool_()),
        "embedding": _embeddings(embeddings, n),
        "embedding_projection": pa.array([projection_id if embeddings is not None else None] * n, pa.string()),
        "text_hash": pa.array(
            [salted_hash(t, hash_salt) for t in texts] if texts is not None and hash_salt else [None] * n,
            pa.string(),
        ),
    }
    for name, kind in task.log_columns.items():
        columns[name] = pa.array([p.extras.get(name) for p in predictions], _ARROW_TYPES[kind])
    return pa.table(columns, schema=schema_for(task))


def _embeddings(embeddings: np.ndarray | None, rows: int) -> pa.Array:
    kind = SCHEMA.field("embedding").type
    if embeddings is None:
        return pa.nulls(rows, kind)
    if embeddings.shape != (rows, EMBEDDING_DIM):
        raise ValueError(f"expected embeddings of shape [{rows}, {EMBEDDING_DIM}], got {list(embeddings.shape)}")
    values = pa.array(np.ascontiguousarray(embeddings, dtype=np.float32).ravel())
    return pa.FixedSizeListArray.from_arrays(values, EMBEDDING_DIM)
