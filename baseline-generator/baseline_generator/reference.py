"""The reference texts a baseline is made from.

By default, the model's own validation split: rebuilt with the same dataset, de-duplication and
seeded split the training command used (one implementation, ``ml_common.datasets``), and
refused if the dataset no longer hashes to what ``metrics.json`` recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ml_common.datasets import Example, dataset_hash, read_labelled_file
from ml_common.splits import TrainingDataMismatch, training_splits
from serving_common.errors import ClientError
from serving_common.model_dir import ModelMetadata
from serving_common.normalization import normalize_text


class ReferenceDataError(ClientError):
    code = "reference_data_error"


@dataclass(frozen=True)
class Reference:
    texts: list[str]
    description: str
    dataset_hash: str


def validation_split(model_dir: Path, metadata: ModelMetadata) -> Reference:
    try:
        splits = training_splits(model_dir, metadata)
    except TrainingDataMismatch as exc:
        raise ReferenceDataError(f"{exc.message}; pass --reference FILE with the model's own reference texts") from None
    return Reference(
        [e.text for e in splits.validation],
        f"validation split (seed {splits.seed}) of the training dataset",
        splits.dataset_hash,
    )


def from_file(path: Path, text_column: str) -> Reference:
    if not path.is_file():
        raise ReferenceDataError(f"{path}: reference file not found")
    try:
        examples = read_labelled_file(path, text_column=text_column, label_column=text_column)
    except (KeyError, ValueError) as exc:
        raise ReferenceDataError(f"{path}: cannot read texts from column {text_column!r} ({exc})") from None
    texts = [normalize_text(e.text) for e in examples]
    texts = [t for t in texts if t]
    if not texts:
        raise ReferenceDataError(f"{path}: no non-empty texts")
    return Reference(texts, f"file {path.name}", dataset_hash([Example(t, "") for t in texts]))
