"""From logits to verdicts, identically online (feature transformer) and offline (training evaluation,
baselines): probabilities, the stored decision threshold, confidence levels, and the heads of a
multi-head model as ``metadata.json`` describes them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from serving_common.model_dir import HeadSpec, ModelMetadata
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
    return exp / exp.sum(axis=-1, keepdims=True)


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


def spam_verdicts(logits: np.ndarray, metadata: ModelMetadata) -> list[tuple[str, float, ConfidenceLevel]]:
    """(label, probability of the positive label, confidence) per row of a [batch, labels] logits tensor."""
    if logits.ndim != 2 or logits.shape[1] != len(metadata.labels):
        raise ValueError(f"expected logits of shape [batch, {len(metadata.labels)}], got {list(logits.shape)}")
    positive = metadata.labels.index(metadata.positive_label)
    negative = next(label for label in metadata.labels if label != metadata.positive_label)
    threshold = metadata.threshold
    verdicts = []
    for p in softmax(logits)[:, positive]:
        p = float(p)
        label = metadata.positive_label if p >= threshold else negative
        verdicts.append((label, p, confidence_level(p, threshold)))
    return verdicts


@dataclass(frozen=True)
class IntentVerdict:
    intent: str
    confidence: float
    all_intents: dict[str, float]
    complexity_score: float
    complexity_level: str


def _head(metadata: ModelMetadata, name: str) -> HeadSpec:
    for head in metadata.heads:
        if head.name == name:
            return head
    raise ValueError(f"model {metadata.name} has no '{name}' head; heads: {[h.name for h in metadata.heads]}")


def intent_verdicts(logits: np.ndarray, metadata: ModelMetadata) -> list[IntentVerdict]:
    """Split one forward pass's logits into the intent head (softmax) and complexity head (sigmoid)."""
    if logits.ndim != 2 or logits.shape[1] != metadata.num_outputs:
        raise ValueError(f"expected logits of shape [batch, {metadata.num_outputs}], got {list(logits.shape)}")
    intent_head, complexity_head = _head(metadata, "intent"), _head(metadata, "complexity")
    probs = softmax(logits[:, intent_head.start : intent_head.start + intent_head.size])
    scores = sigmoid(logits[:, complexity_head.start])
    verdicts = []
    for row, score in zip(probs, scores, strict=True):
        best = int(row.argmax())
        verdicts.append(
            IntentVerdict(
                intent=intent_head.labels[best],
                confidence=float(row[best]),
                all_intents={label: float(p) for label, p in zip(intent_head.labels, row, strict=True)},
                complexity_score=float(score),
                complexity_level=complexity_level(float(score)),
            )
        )
    return verdicts
