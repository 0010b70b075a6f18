"""The numbers behind verdicts, identically online (feature transformer) and offline (training
evaluation, baselines): probabilities, confidence levels relative to the stored decision threshold,
complexity levels. Verdicts themselves are each task's (:mod:`serving_common.tasks`)."""

from __future__ import annotations

import numpy as np

from serving_common.schemas import ConfidenceLevel

# Levels of the threshold-relative margin (see confidence_level).
HIGH_MARGIN = 0.8
MEDIUM_MARGIN = 0.5
# Complexity levels: score < 0.33 simple, < 0.67 moderate, else complex.
COMPLEXITY_LEVELS: tuple[tuple[str, float], ...] = (("simple", 0.33), ("moderate", 0.67), ("complex", float("inf")))


def softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    probabilities: np.ndarray = exp / exp.sum(axis=-1, keepdims=True)
    return probabilities


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def confidence_level(probability: float, threshold: float) -> ConfidenceLevel:
    """How far the probability sits from the decision threshold, as a share of the room on its side.

    With threshold t, a spam verdict's margin is (p - t) / (1 - t) and a ham verdict's (t - p) / t,
    so 'high' means the same thing whatever threshold the model was calibrated to.
    """
    if probability >= threshold:
        margin = (probability - threshold) / (1 - threshold)
    else:
        margin = (threshold - probability) / threshold
    if margin >= HIGH_MARGIN:
        return "high"
    if margin >= MEDIUM_MARGIN:
        return "medium"
    return "low"


def complexity_level(score: float) -> str:
    return next(level for level, upper in COMPLEXITY_LEVELS if score < upper)
