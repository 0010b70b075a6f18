"""The spam task: one binary softmax head, a decision threshold chosen at training time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from serving_common.model_dir import ModelMetadata
from serving_common.postprocess import confidence_level, softmax
from serving_common.schemas import ConfidenceLevel, SpamOutput, SpamResponse
from serving_common.tasks.base import Comparison, ModelTask, Prediction


@dataclass(frozen=True)
class SpamVerdict:
    label: str
    spam_probability: float  # of the model's positive label
    confidence: ConfidenceLevel


class SpamTask(ModelTask[SpamVerdict, SpamOutput, SpamResponse]):
    name = "spam"
    response_model = SpamResponse

    def check(self, metadata: ModelMetadata) -> None:
        if metadata.positive_label is None or len(metadata.labels) != 2:
            raise ValueError(f"a spam model has two labels and names its positive_label; {metadata.name} does not")

    def verdicts(self, logits: np.ndarray, metadata: ModelMetadata) -> list[SpamVerdict]:
        if logits.ndim != 2 or logits.shape[1] != len(metadata.labels) or metadata.positive_label is None:
            raise ValueError(f"expected logits of shape [batch, {len(metadata.labels)}], got {list(logits.shape)}")
        positive = metadata.labels.index(metadata.positive_label)
        negative = next(label for label in metadata.labels if label != metadata.positive_label)
        threshold = metadata.threshold
        verdicts = []
        for p in softmax(logits)[:, positive]:
            probability = float(p)
            label = metadata.positive_label if probability >= threshold else negative
            verdicts.append(SpamVerdict(label, probability, confidence_level(probability, threshold)))
        return verdicts

    def log_row(self, verdict: SpamVerdict) -> Prediction:
        return Prediction(label=verdict.label, probability=verdict.spam_probability)

    def output(self, verdict: SpamVerdict, *, truncated: bool, features: dict[str, float]) -> SpamOutput:
        return SpamOutput(
            label=verdict.label,
            spam_probability=verdict.spam_probability,
            confidence=verdict.confidence,
            truncated=truncated,
            features=features,
        )

    @staticmethod
    def answer_label(output: SpamOutput) -> str:
        return output.label

    def compare(self, production: SpamOutput, staging: SpamOutput) -> Comparison:
        return Comparison(
            {"label": production.label == staging.label},
            abs(production.spam_probability - staging.spam_probability),
        )
