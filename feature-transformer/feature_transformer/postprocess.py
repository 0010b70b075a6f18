"""From logits to verdicts: probabilities, the stored decision threshold, and a confidence level."""

from __future__ import annotations

import numpy as np

from serving_common.model_dir import ModelMetadata
from serving_common.schemas import ConfidenceLevel

# Levels of the threshold-relative margin (see confidence_level).
HIGH_MARGIN = 0.8
MEDIUM_MARGIN = 0.5


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def confidence_level(probability: float, threshold: float) -> ConfidenceLevel:
    """How far the probability sits from the decision threshold, as a share of the room on its side.

    With threshold t, a spam verdict's margin is (p - t) / (1 - t) and a ham verdict's (t - p) / t,
    so 'high' means the same thing whatever threshold the model was calibrated to.
    """
    margin = (
        (probability - threshold) / (1 - threshold)
        if probability >= threshold
        else (threshold - probability) / threshold
    )
    if margin >= HIGH_MARGIN:
        return "high"
    if margin >= MEDIUM_MARGIN:
        return "medium"
    return "low"


def spam_verdicts(logits: np.ndarray, metadata: ModelMetadata) -> list[tuple[str, float, ConfidenceLevel]]:
    """(label, probability of the positive label, confidence) per row of a [batch, labels] logits tensor."""
    if logits.ndim != 2 or logits.shape[1] != len(metadata.labels):
        raise ValueError(f"expected logits of shape [batch, {len(metadata.labels)}], got {list(logits.shape)}")
    positive = metadata.labels.index(metadata.positive_label)
    negative = next(label for label in metadata.labels if label != metadata.positive_label)
    threshold = metadata.threshold
    verdicts = []
    for p in softmax(logits.astype(np.float64))[:, positive]:
        p = float(p)
        label = metadata.positive_label if p >= threshold else negative
        verdicts.append((label, p, confidence_level(p, threshold)))
    return verdicts
