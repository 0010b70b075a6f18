"""What one row of the inference log holds, and how predictions become rows.

One function builds rows from a model's outputs, online (feature transformer) and offline
(baseline generator), so the baseline and the live window can be compared column by column.
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
from serving_common.tasks import Prediction

__all__ = ["SCHEMA", "Prediction", "build_rows", "salted_hash", "to_table"]

# Columns a reader can rely on. The partition keys (environment, model, date, hour) live in the path.
SCHEMA = pa.schema(
    [
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("model_name", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("request_id", pa.string()),
        *(pa.field(name, pa.float64(), nullable=False) for name in FEATURE_NAMES),
        pa.field("label", pa.string(), nullable=False),
        pa.field("probability", pa.float64(), nullable=False),
        pa.field("complexity_score", pa.float64()),
        pa.field("complexity_level", pa.string()),
        pa.field("truncated", pa.bool_()),
        pa.field("embedding", pa.list_(pa.float32(), EMBEDDING_DIM)),
        pa.field("embedding_projection", pa.string()),
        pa.field("text_hash", pa.string()),
    ]
)


def salted_hash(text: str, salt: bytes) -> str:
    """Keyed hash of a text: equal texts can be matched, the text itself is not recoverable."""
    return hmac.new(salt, text.encode(), hashlib.sha256).hexdigest()


def build_rows(
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
) -> list[dict[str, Any]]:
    """Rows in :data:`SCHEMA` order. Texts are only hashed, and only when a salt is given.

    ``request_id`` is one id for every row, or one per row (rows of a coalesced call come from
    several callers, each with its own id)."""
    when = timestamp or datetime.now(UTC)
    ids = [request_id] * len(predictions) if request_id is None or isinstance(request_id, str) else list(request_id)
    rows = []
    for i, (feats, prediction) in enumerate(zip(features, predictions, strict=True)):
        row = {
            "timestamp": when,
            "model_name": model_name,
            "model_version": model_version,
            "request_id": ids[i],
            **{name: float(feats[name]) for name in FEATURE_NAMES},
            "label": prediction.label,
            "probability": float(prediction.probability),
            "complexity_score": prediction.complexity_score,
            "complexity_level": prediction.complexity_level,
            "truncated": bool(truncated[i]),
            "embedding": embeddings[i].tolist() if embeddings is not None else None,
            "embedding_projection": projection_id if embeddings is not None else None,
            "text_hash": salted_hash(texts[i], hash_salt) if texts is not None and hash_salt else None,
        }
        rows.append(row)
    return rows


def to_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=SCHEMA)
