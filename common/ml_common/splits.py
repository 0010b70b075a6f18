"""The splits a model directory was trained on, rebuilt from what its ``metrics.json`` recorded.

Training writes the split seed and the dataset hash; the baseline generator (validation split) and
the benchmark (test split) rebuild the same splits here, and refuse when the default dataset no
longer hashes to what the model was trained on.
"""

from __future__ import annotations

import json
from pathlib import Path

from ml_common.datasets import DEFAULT_DATASETS, Splits, stratified_split
from serving_common.errors import ClientError
from serving_common.model_dir import METRICS_FILE, ModelMetadata


class TrainingDataMismatch(ClientError):
    code = "training_data_mismatch"


def training_splits(model_dir: Path, metadata: ModelMetadata) -> Splits:
    metrics_path = Path(model_dir) / METRICS_FILE
    try:
        dataset = json.loads(metrics_path.read_text())["dataset"]
        seed, expected = int(dataset["split_seed"]), str(dataset["hash"])
    except (OSError, ValueError, KeyError) as exc:
        raise TrainingDataMismatch(f"{metrics_path}: no dataset split recorded ({exc})") from None
    splits = stratified_split(DEFAULT_DATASETS[metadata.task](), seed=seed)
    if splits.dataset_hash != expected:
        raise TrainingDataMismatch(
            f"the default training dataset hashes to {splits.dataset_hash[:16]}, but {metadata.name} was trained on "
            f"{expected[:16]}"
        )
    return splits
