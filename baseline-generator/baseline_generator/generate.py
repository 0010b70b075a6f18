"""Reference texts through the same feature extraction, tokenizer, model and postprocessing the
platform serves with, into a baseline (see :mod:`serving_common.baseline`)."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from baseline_generator.reference import Reference
from ml_common.runtime import Classifier
from serving_common.baseline import BaselineMetadata
from serving_common.embedding import EMBEDDING_DIM
from serving_common.features import FEATURE_NAMES
from serving_common.inference_log.records import extra_columns, to_table
from serving_common.pipeline import TextPipeline

HISTOGRAM_BINS = 20


def sample(texts: list[str], max_samples: int, seed: int) -> list[str]:
    if len(texts) <= max_samples:
        return texts
    return random.Random(seed).sample(texts, max_samples)


def run_reference(
    classifier: Classifier, model_dir: Path, texts: list[str], batch_size: int, when: datetime
) -> pa.Table:
    """Rows exactly as the feature transformer would log them for these texts (one pipeline for both)."""
    metadata = classifier.metadata
    pipeline = TextPipeline.from_model_dir(model_dir)
    parts = [
        pipeline.rows(
            pipeline.run(classifier.infer, texts[start : start + batch_size], batch_size=batch_size),
            projection_id=classifier.projection.id,
            timestamp=when,
        )
        for start in tqdm(range(0, len(texts), batch_size), desc=f"baseline {metadata.name}", unit="batch")
    ]
    return to_table(parts)


def summarise(samples: pa.Table) -> dict[str, Any]:
    """Per-feature statistics and histograms, and the label distribution: what a person reads."""
    features = {}
    for name in FEATURE_NAMES:
        values = samples[name].to_numpy()
        counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
        features[name] = {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "min": float(values.min()),
            "p05": float(np.quantile(values, 0.05)),
            "p50": float(np.quantile(values, 0.5)),
            "p95": float(np.quantile(values, 0.95)),
            "max": float(values.max()),
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
        }
    labels = samples["label"].value_counts().to_pylist()
    summary: dict[str, Any] = {
        "rows": samples.num_rows,
        "features": features,
        "labels": {item["values"]: item["counts"] for item in sorted(labels, key=lambda i: i["values"])},
    }
    for name in extra_columns(samples):  # the task's own columns: counts of each value of a categorical one
        column = samples[name]
        if pa.types.is_string(column.type) and column.null_count < samples.num_rows:
            counts = column.value_counts().to_pylist()
            summary[f"{name}s"] = {item["values"]: item["counts"] for item in counts}
    return summary


def build_baseline(
    classifier: Classifier,
    model_dir: Path,
    reference: Reference,
    *,
    max_samples: int,
    batch_size: int,
    seed: int,
) -> tuple[BaselineMetadata, pa.Table, dict[str, Any]]:
    texts = sample(reference.texts, max_samples, seed)
    created = datetime.now(UTC).replace(microsecond=0)
    samples = run_reference(classifier, model_dir, texts, batch_size, created)
    content = samples.drop_columns(["timestamp"])
    digest = hashlib.sha256()
    for column in content.columns:
        digest.update(repr(column.to_pylist()).encode())
    metadata = BaselineMetadata(
        model_name=classifier.metadata.name,
        model_version=classifier.metadata.version,
        task=classifier.metadata.task,
        baseline_version="b-" + digest.hexdigest()[:12],
        reference=reference.description,
        dataset_hash=reference.dataset_hash,
        rows=samples.num_rows,
        feature_names=list(FEATURE_NAMES),
        labels=list(classifier.metadata.labels),
        embedding_projection=classifier.projection.id,
        embedding_dim=EMBEDDING_DIM,
        created_at=created.isoformat(),
    )
    return metadata, samples, summarise(samples)
