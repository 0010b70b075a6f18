"""The baseline contract between the baseline generator (writes) and the drift detector (reads).

A baseline belongs to one model version and sits at ``{baselines_url}/{model_name}/{model_version}/``::

    metadata.json     BaselineMetadata: model, dataset hash, projection id, rows, created at
    samples.parquet   reference rows in the inference log's own schema (features, verdicts, embeddings, the
                      task's own columns)
    summary.json      per-feature summaries and histograms, label distribution (for people and reports)
    projection.npy    the embedding projection the rows were made with (see serving_common.embedding)
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from serving_common.errors import PlatformError
from serving_common.inference_log.layout import open_root
from serving_common.inference_log.records import conform

METADATA_FILE = "metadata.json"
SAMPLES_FILE = "samples.parquet"
SUMMARY_FILE = "summary.json"
PROJECTION_FILE = "projection.npy"


class BaselineNotFound(PlatformError):
    status_code = 404
    code = "baseline_not_found"


class BaselineMetadata(BaseModel):
    model_name: str
    model_version: str
    task: str
    baseline_version: str = Field(description="hash of the samples: same reference data and model, same value")
    reference: str = Field(description="what the reference data was")
    dataset_hash: str
    rows: int
    feature_names: list[str]
    labels: list[str]
    embedding_projection: str
    embedding_dim: int
    created_at: str


def baseline_path(root: str, model_name: str, model_version: str) -> str:
    return f"{root}/{model_name}/{model_version}"


class BaselineStore:
    """Baselines under one URL (a local directory or an fsspec URL such as ``s3://bucket/baselines``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._fs, self._root = open_root(url)

    def location(self, model_name: str, model_version: str) -> str:
        return baseline_path(self._root, model_name, model_version)

    def exists(self, model_name: str, model_version: str) -> bool:
        return bool(self._fs.exists(f"{self.location(model_name, model_version)}/{METADATA_FILE}"))

    def write(
        self, metadata: BaselineMetadata, samples: pa.Table, summary: dict[str, Any], projection: np.ndarray
    ) -> str:
        where = self.location(metadata.model_name, metadata.model_version)
        self._fs.makedirs(where, exist_ok=True)
        with self._fs.open(f"{where}/{SAMPLES_FILE}", "wb") as fh:
            pq.write_table(conform(samples), fh, compression="zstd")
        with self._fs.open(f"{where}/{PROJECTION_FILE}", "wb") as fh:
            np.save(fh, projection)
        with self._fs.open(f"{where}/{SUMMARY_FILE}", "w") as fh:
            json.dump(summary, fh, indent=2, sort_keys=True)
        # metadata.json last: a baseline without it is incomplete and is not read.
        with self._fs.open(f"{where}/{METADATA_FILE}", "w") as fh:
            fh.write(metadata.model_dump_json(indent=2))
        return where

    def read(self, model_name: str, model_version: str) -> tuple[BaselineMetadata, pa.Table]:
        where = self.location(model_name, model_version)
        if not self.exists(model_name, model_version):
            raise BaselineNotFound(f"no baseline for {model_name} {model_version} under {self.url}")
        with self._fs.open(f"{where}/{METADATA_FILE}", "r") as fh:
            metadata = BaselineMetadata.model_validate_json(fh.read())
        with self._fs.open(f"{where}/{SAMPLES_FILE}", "rb") as fh:
            samples = conform(pq.read_table(fh))
        return metadata, samples
