"""Texts to verdicts and inference-log rows, the one way the platform does it.

The feature transformer runs it around its call to the predictor (:meth:`TextPipeline.prepare`, then
:meth:`TextPipeline.score` on the predictor's logits); the baseline generator, the independent evaluation
and the bench run it whole with a model in process (:meth:`TextPipeline.run`). Each step is the model's
task's (:mod:`serving_common.tasks`): nothing here names one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from serving_common.char_ngrams import CharNgramModel, blended_logits
from serving_common.errors import ModelDirectoryError
from serving_common.features import compose_email_text, extract_features
from serving_common.inference_log.records import LogRows
from serving_common.model_dir import NGRAMS_FILE, ModelMetadata, read_metadata
from serving_common.tasks import AnyTask, task_of
from serving_common.tokenization import EncodedBatch, TextEncoder

# A model in process: (input_ids, attention_mask) -> (logits, the embedding of each row or None).
Infer = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray | None]]


@dataclass(frozen=True)
class Prepared:
    """Texts as the model reads them, their features and their token tensors, and the character n-gram
    model's log-odds when the model blends them in (``ngram_weight``)."""

    texts: list[str]
    features: list[dict[str, float]]
    batch: EncodedBatch
    ngram_logits: np.ndarray | None = None


@dataclass(frozen=True)
class Scored:
    """Prepared texts with the task's verdicts and, when the model gave them, their embeddings."""

    texts: list[str]
    features: list[dict[str, float]]
    truncated: list[bool]
    verdicts: list[Any]
    embeddings: np.ndarray | None = None

    @classmethod
    def join(cls, parts: Sequence[Scored]) -> Scored:
        embeddings = [p.embeddings for p in parts if p.embeddings is not None]
        return cls(
            texts=[t for p in parts for t in p.texts],
            features=[f for p in parts for f in p.features],
            truncated=[t for p in parts for t in p.truncated],
            verdicts=[v for p in parts for v in p.verdicts],
            embeddings=np.concatenate(embeddings) if parts and len(embeddings) == len(parts) else None,
        )


class TextPipeline:
    """One model's texts-to-rows path: compose and normalise, features, tokens, the task's verdicts, rows."""

    def __init__(self, metadata: ModelMetadata, encoder: TextEncoder, ngrams: CharNgramModel | None = None) -> None:
        if bool(metadata.ngram_weight) != (ngrams is not None):
            raise ValueError(f"ngram_weight is {metadata.ngram_weight}: a character n-gram model goes with it, or none")
        self.metadata = metadata
        self.task: AnyTask = task_of(metadata)
        self.encoder = encoder
        self.ngrams = ngrams

    @classmethod
    def from_model_dir(cls, model_dir: str | Path, metadata: ModelMetadata | None = None) -> TextPipeline:
        """ModelDirectoryError naming the file that cannot be read. ``metadata``: the directory's, already read."""
        metadata = metadata if metadata is not None else read_metadata(model_dir)
        ngrams = None
        if metadata.ngram_weight:
            path = Path(model_dir) / NGRAMS_FILE
            try:
                ngrams = CharNgramModel.load(path)
            except ValueError as exc:
                raise ModelDirectoryError(str(path), str(exc)) from None
        return cls(metadata, TextEncoder.for_model(model_dir, metadata), ngrams)

    def prepare(self, bodies: Sequence[str], subjects: Sequence[str | None] | None = None) -> Prepared:
        """ValueError naming the first text that is empty once normalised."""
        subjects = subjects if subjects is not None else [None] * len(bodies)
        texts = [compose_email_text(body, subject) for body, subject in zip(bodies, subjects, strict=True)]
        for i, text in enumerate(texts):
            if not text:
                raise ValueError(f"text {i} is empty once normalised")
        ngram_logits = self.ngrams.logits(texts) if self.ngrams is not None else None
        return Prepared(texts, [extract_features(t) for t in texts], self.encoder.encode(texts), ngram_logits)

    def score(self, prepared: Prepared, logits: np.ndarray, embeddings: np.ndarray | None = None) -> Scored:
        """ValueError when the logits do not fit the texts or the model's heads."""
        if logits.shape[0] != len(prepared.texts):
            raise ValueError(f"{logits.shape[0]} rows of logits for {len(prepared.texts)} texts")
        if embeddings is not None and embeddings.shape[0] != len(prepared.texts):
            embeddings = None
        if prepared.ngram_logits is not None:
            positive = self.metadata.labels.index(str(self.metadata.positive_label))
            logits = blended_logits(logits, positive, prepared.ngram_logits, self.metadata.ngram_weight)
        verdicts = self.task.verdicts(logits, self.metadata)
        return Scored(prepared.texts, prepared.features, prepared.batch.truncated, verdicts, embeddings)

    def run(self, infer: Infer, bodies: Sequence[str], *, batch_size: int = 64) -> Scored:
        """Texts through a model in process, ``batch_size`` at a time."""
        parts = []
        for start in range(0, len(bodies), batch_size):
            prepared = self.prepare(bodies[start : start + batch_size])
            logits, embeddings = infer(prepared.batch.input_ids, prepared.batch.attention_mask)
            parts.append(self.score(prepared, logits, embeddings))
        return Scored.join(parts)

    def rows(
        self,
        scored: Scored,
        *,
        model_version: str | None = None,
        model_name: str | None = None,
        projection_id: str | None = None,
        request_ids: str | Sequence[str | None] | None = None,
        hash_salt: bytes | None = None,
        timestamp: datetime | None = None,
    ) -> LogRows:
        """The inference log's rows for ``scored`` (``records.to_table`` makes them a table)."""
        return LogRows.of(
            self.task,
            model_name=model_name or self.metadata.name,
            model_version=model_version or self.metadata.version,
            features=scored.features,
            predictions=[self.task.log_row(v) for v in scored.verdicts],
            embeddings=scored.embeddings,
            projection_id=projection_id,
            truncated=scored.truncated,
            request_id=request_ids,
            texts=scored.texts,
            hash_salt=hash_salt,
            timestamp=timestamp,
        )
