"""Baseline-generator settings: environment (``BASELINE_*``) overridden by flags."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from serving_common.settings import ServiceSettings


class BaselineSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BASELINE_", extra="ignore", frozen=True)

    model_dir: str = Field(default="/mnt/models", description="The model directory the baseline is for.")
    baselines_url: str = Field(
        default="models/baselines",
        description="Where baselines live: a directory or fsspec URL; written to {url}/{model}/{version}/.",
    )
    reference: str | None = Field(
        default=None,
        description="CSV/TSV/JSONL of reference texts; default: the model's own validation split, rebuilt "
        "from its training dataset and checked against the dataset hash in metrics.json.",
    )
    text_column: str = Field(default="text", description="Text column of a reference file.")
    max_samples: int = Field(default=5000, ge=10, description="Reference rows kept at most (a seeded sample).")
    batch_size: int = Field(default=64, ge=1, description="Texts per forward pass.")
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="Where the model runs.")
    runtime: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        default="auto",
        description="How the model runs, as the model server's --runtime (auto: int8 ONNX Runtime on CPU, "
        "PyTorch on GPU): the reference embeddings must come from the runtime that serves, or the drift job "
        "compares two runtimes instead of two streams.",
    )
    onnx_cache_dir: str = Field(default="/tmp/textserve-onnx", description="Where the exported ONNX model is kept.")
    seed: int = Field(default=0, description="Seed of the sample taken when the reference is larger.")
