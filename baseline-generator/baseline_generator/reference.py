"""The reference texts a baseline is made from.

By default, the model's own validation split: rebuilt with the same dataset, de-duplication and
seeded split the training command used (one implementation, ``model_training.datasets``), and
refused if the dataset no longer hashes to what ``metrics.json`` recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from model_training.datasets import Example, dataset_hash, load_sms_spam, read_labelled_file, stratified_split
from model_training.intent_data import read_dataset
from serving_common.errors import ClientError
from serving_common.features import normalize_text
from serving_common.model_dir import METRICS_FILE, ModelMetadata, Task


class ReferenceDataError(ClientError):
    code = "reference_data_error"


@dataclass(frozen=True)
class Reference:
    texts: list[str]
    description: str
    dataset_hash: str


def validation_split(model_dir: Path, metadata: ModelMetadata) -> Reference:
    metrics_path = model_dir / METRICS_FILE
    try:
        dataset = json.loads(metrics_path.read_text())["dataset"]
        seed, expected = int(dataset["split_seed"]), str(dataset["hash"])
    except (OSError, ValueError, KeyError) as exc:
        raise ReferenceDataError(
            f"{metrics_path}: no dataset split recorded ({exc}); pass --reference FILE with reference texts"
        ) from None
    if metadata.task is Task.SPAM:
        examples = load_sms_spam()
    else:
        examples = [Example(r["text"], r["intent"]) for r in read_dataset()]
    splits = stratified_split(examples, seed=seed)
    if splits.dataset_hash != expected:
        raise ReferenceDataError(
            f"the default training dataset hashes to {splits.dataset_hash[:16]}, but {metadata.name} was trained on "
            f"{expected[:16]}; pass --reference FILE with the model's own reference texts"
        )
    return Reference(
        [e.text for e in splits.validation], f"validation split (seed {seed}) of the training dataset", expected
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
