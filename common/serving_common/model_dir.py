"""The model-directory contract shared by training, the model server and the feature transformer.

A model directory is self-contained: what KServe's storage initializer copies from ``storageUri``
into ``/mnt/models`` is everything needed to serve it::

    metadata.json       name, version, task, labels, max_length, decision threshold, heads
    config.json         the Hugging Face model config
    model.safetensors   the weights
    tokenizer.json      a fast tokenizer (no sentencepiece/protobuf needed at serving time)
    char_ngrams.npz     a character n-gram model blended into the verdict (only with ``ngram_weight``)
    metrics.json        held-out evaluation (written by training; optional for serving)
    README.md           the model card (optional for serving)

Everything is checked up front so a bad directory is refused at load time with a message that
names the file, instead of a stack trace from deep inside transformers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from serving_common.errors import ModelDirectoryError, describe_validation_error

METADATA_FILE = "metadata.json"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
METRICS_FILE = "metrics.json"
MODEL_CARD_FILE = "README.md"
NGRAMS_FILE = "char_ngrams.npz"

REQUIRED_FILES = (METADATA_FILE, CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE)


class HeadSpec(BaseModel):
    """One output head: a slice of the model's ``logits`` tensor and how to read it."""

    name: str
    kind: str = Field(description="'classification' (softmax over labels) or 'regression' (sigmoid score)")
    start: int = Field(ge=0, description="first column of this head in the logits tensor")
    size: int = Field(ge=1)
    labels: list[str] = Field(default_factory=list)


class ModelMetadata(BaseModel):
    """``metadata.json``: what the serving side needs to know about a model, beyond its weights."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: str = Field(min_length=1)
    task: str = Field(
        pattern=r"^[a-z][a-z0-9_-]*$", description="the registered task that reads its logits (serving_common.tasks)"
    )
    architecture: str
    labels: list[str] = Field(min_length=2)
    max_length: int = Field(default=512, ge=8, le=4096)
    tail_tokens: int = Field(
        default=0,
        ge=0,
        description="of a text longer than max_length, the tokens kept from its end (the rest from its start); "
        "0 keeps the start alone",
    )
    decision_threshold: float | None = Field(default=None, gt=0.0, lt=1.0)
    positive_label: str | None = None
    heads: list[HeadSpec] = Field(default_factory=list)
    ngram_weight: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="the share of the character n-gram model's log-odds (char_ngrams.npz) in the positive "
        "label's log-odds, the encoder's the rest; 0 reads the encoder alone",
    )
    created_at: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> ModelMetadata:
        if self.positive_label is not None and self.positive_label not in self.labels:
            raise ValueError(f"positive_label {self.positive_label!r} is not one of labels {self.labels}")
        if self.tail_tokens > self.max_length // 2:
            raise ValueError(f"tail_tokens {self.tail_tokens} is more than half of max_length {self.max_length}")
        if self.ngram_weight and (self.positive_label is None or len(self.labels) != 2 or self.heads):
            raise ValueError("ngram_weight needs a model of two labels, one of them the positive_label, and no heads")
        return self

    @property
    def threshold(self) -> float:
        return 0.5 if self.decision_threshold is None else self.decision_threshold

    @property
    def num_outputs(self) -> int:
        if self.heads:
            return max(h.start + h.size for h in self.heads)
        return len(self.labels)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelDirectoryError(str(path), "file is missing") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirectoryError(str(path), f"not valid JSON ({exc})") from None


def read_metadata(model_dir: str | Path) -> ModelMetadata:
    """Read and validate ``metadata.json`` of a model directory."""
    path = Path(model_dir) / METADATA_FILE
    raw = _read_json(path)
    try:
        return ModelMetadata.model_validate(raw)
    except ValidationError as exc:
        raise ModelDirectoryError(str(path), f"invalid metadata ({describe_validation_error(exc)})") from None


def validate_model_dir(model_dir: str | Path, required: tuple[str, ...] = REQUIRED_FILES) -> ModelMetadata:
    """Check that a directory honours the contract; return its metadata.

    Raises :class:`ModelDirectoryError` naming the first missing, empty or unparsable file.
    """
    root = Path(model_dir)
    if not root.is_dir():
        raise ModelDirectoryError(str(root), "model directory does not exist")
    for name in required:
        path = root / name
        if not path.is_file():
            raise ModelDirectoryError(str(path), "file is missing")
        if path.stat().st_size == 0:
            raise ModelDirectoryError(str(path), "file is empty")
    metadata = read_metadata(root)
    if metadata.ngram_weight and not (root / NGRAMS_FILE).is_file():
        raise ModelDirectoryError(str(root / NGRAMS_FILE), f"file is missing (ngram_weight is {metadata.ngram_weight})")
    if CONFIG_FILE in required:
        _read_json(root / CONFIG_FILE)
    if TOKENIZER_FILE in required:
        _read_json(root / TOKENIZER_FILE)
    return metadata


def write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
