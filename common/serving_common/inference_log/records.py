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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from serving_common.embedding import EMBEDDING_DIM
from serving_common.features import FEATURE_NAMES
from serving_common.tasks import AnyTask, LogType, Prediction

__all__ = [
    "SCHEMA",
    "LogRows",
    "Prediction",
    "build_table",
    "columns_of",
    "conform",
    "extra_columns",
    "salted_hash",
    "schema_for",
    "to_table",
]

_ARROW_TYPES: dict[LogType, pa.DataType] = {"float64": pa.float64(), "string": pa.string(), "bool": pa.bool_()}

# The columns every task's rows have. The partition keys (environment, model, date, hour) live in the path.
SCHEMA = pa.schema(
    [
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("model_name", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("request_id", pa.string()),
        # The row within its request (a batch's rows share the request id): what a user's label names.
        pa.field("position", pa.int32()),
        *(pa.field(name, pa.float64(), nullable=False) for name in FEATURE_NAMES),
        pa.field("label", pa.string(), nullable=False),
        pa.field("probability", pa.float64(), nullable=False),
        pa.field("truncated", pa.bool_()),
        # EMBEDDING_DIM floats, or null. A plain list, not a fixed-size one: pyarrow before 22 (the drift
        # detector's, pinned by alibi-detect's numpy<2) cannot read a fixed-size list column with nulls back.
        pa.field("embedding", pa.list_(pa.float32())),
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


def columns_of(table: pa.Table, schema: pa.Schema) -> list[pa.ChunkedArray]:
    """``schema``'s columns of ``table``, cast to its types; a nullable one the table predates reads as nulls.
    KeyError when any other is missing."""
    return [
        table[name].cast(field.type)
        if name in table.column_names or not field.nullable
        else pa.chunked_array([pa.nulls(table.num_rows, field.type)])
        for name, field in zip(schema.names, schema, strict=True)
    ]


def conform(table: pa.Table) -> pa.Table:
    """The common columns cast to :data:`SCHEMA`'s types and first, the task's own after them as they are.
    A nullable common column a file predates (``position``) reads as nulls; KeyError when any other is missing."""
    common = columns_of(table, SCHEMA)
    extras = extra_columns(table)
    fields = [*SCHEMA, *(table.schema.field(name) for name in extras)]
    return pa.Table.from_arrays([*common, *(table[name] for name in extras)], schema=pa.schema(fields))


def salted_hash(text: str, salt: bytes) -> str:
    """Keyed hash of a text: equal texts can be matched, the text itself is not recoverable."""
    return hmac.new(salt, text.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class LogRows:
    """One model's rows of one moment as plain values. The request path makes these and hands them to the
    writer's buffer; the writer's thread turns many at once into one Arrow table (:func:`to_table`), so a
    request pays no per-column Arrow work. Texts are only hashed, and only when a salt is given."""

    task: AnyTask
    model_name: str
    model_version: str
    timestamp: datetime
    features: Sequence[dict[str, float]]
    predictions: Sequence[Prediction]
    truncated: Sequence[bool]
    request_ids: Sequence[str | None]
    positions: Sequence[int | None]
    text_hashes: Sequence[str | None]
    embeddings: np.ndarray | None
    projection_id: str | None

    @property
    def num_rows(self) -> int:
        return len(self.predictions)

    @classmethod
    def of(
        cls,
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
    ) -> LogRows:
        """``request_id`` is one id for every row, or one per row (rows of a coalesced call come from
        several callers, each with its own id, each caller's rows together and in order). A row's position is
        its place among the rows of its request id; none without ids."""
        n = len(predictions)
        if len(features) != n or len(truncated) != n:
            raise ValueError(f"{n} predictions, {len(features)} feature rows, {len(truncated)} truncation flags")
        if embeddings is not None and embeddings.shape != (n, EMBEDDING_DIM):
            raise ValueError(f"expected embeddings of shape [{n}, {EMBEDDING_DIM}], got {list(embeddings.shape)}")
        ids = [request_id] * n if request_id is None or isinstance(request_id, str) else list(request_id)
        seen: dict[str, int] = {}
        positions: list[int | None] = []
        for row_id in ids:
            if row_id is None:
                positions.append(None)
                continue
            position = seen.get(row_id, 0)
            positions.append(position)
            seen[row_id] = position + 1
        hashes = [salted_hash(t, hash_salt) for t in texts] if texts is not None and hash_salt else [None] * n
        return cls(
            task,
            model_name,
            model_version,
            timestamp or datetime.now(UTC),
            features,
            predictions,
            truncated,
            ids,
            positions,
            hashes,
            embeddings,
            projection_id if embeddings is not None else None,
        )


def to_table(parts: Sequence[LogRows]) -> pa.Table:
    """The rows of one task's parts as one table in :func:`schema_for` its schema, column by column."""
    task = parts[0].task
    if any(part.task is not task for part in parts):
        raise ValueError("rows of different tasks do not share a table")

    def column(values: Any, kind: pa.DataType) -> pa.Array:
        return pa.array(values, kind)

    def each(get: Any) -> list[Any]:
        return [value for part in parts for value in get(part)]

    columns: dict[str, Any] = {
        "timestamp": column(each(lambda p: [p.timestamp] * p.num_rows), SCHEMA.field("timestamp").type),
        "model_name": column(each(lambda p: [p.model_name] * p.num_rows), pa.string()),
        "model_version": column(each(lambda p: [p.model_version] * p.num_rows), pa.string()),
        "request_id": column(each(lambda p: p.request_ids), pa.string()),
        "position": column(each(lambda p: p.positions), pa.int32()),
        **{
            name: column([float(f[name]) for part in parts for f in part.features], pa.float64())
            for name in FEATURE_NAMES
        },
        "label": column(each(lambda p: [x.label for x in p.predictions]), pa.string()),
        "probability": column(each(lambda p: [float(x.probability) for x in p.predictions]), pa.float64()),
        "truncated": column(each(lambda p: [bool(t) for t in p.truncated]), pa.bool_()),
        "embedding": _embeddings(parts),
        "embedding_projection": column(each(lambda p: [p.projection_id] * p.num_rows), pa.string()),
        "text_hash": column(each(lambda p: p.text_hashes), pa.string()),
    }
    for name, kind in task.log_columns.items():
        columns[name] = column(each(lambda p, n=name: [x.extras.get(n) for x in p.predictions]), _ARROW_TYPES[kind])
    return pa.table(columns, schema=schema_for(task))


def build_table(task: AnyTask, **rows: Any) -> pa.Table:
    """One model's rows of one moment as a table: :meth:`LogRows.of`'s arguments."""
    return to_table([LogRows.of(task, **rows)])


def _embeddings(parts: Sequence[LogRows]) -> pa.Array:
    """One list of EMBEDDING_DIM floats per row: the parts' embedding matrices stacked, null for rows without one."""
    kind = SCHEMA.field("embedding").type
    rows = sum(p.num_rows for p in parts)
    if all(p.embeddings is None for p in parts):
        return pa.nulls(rows, kind)
    given = [p.embeddings for p in parts if p.embeddings is not None]
    values = pa.array(np.ascontiguousarray(np.concatenate(given), dtype=np.float32).ravel())
    sizes = np.concatenate([np.full(p.num_rows, EMBEDDING_DIM if p.embeddings is not None else 0) for p in parts])
    offsets = pa.array(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32))
    valid = pa.array([p.embeddings is not None for p in parts for _ in range(p.num_rows)], pa.bool_())
    return pa.ListArray.from_arrays(offsets, values, type=kind, mask=pc.invert(valid))
