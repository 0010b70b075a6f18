"""The intent task: an intent (softmax head) and a complexity score (sigmoid head) from one forward pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from serving_common.model_dir import HeadSpec, ModelMetadata
from serving_common.postprocess import complexity_level, sigmoid, softmax
from serving_common.schemas import IntentOutput, IntentResponse, IntentScore
from serving_common.tasks.base import Comparison, LogType, ModelTask, Prediction

TOP_INTENTS = 3
HEADS = ("intent", "complexity")


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


class IntentTask(ModelTask[IntentVerdict, IntentOutput, IntentResponse]):
    name = "intent"
    response_model = IntentResponse
    log_columns: ClassVar[Mapping[str, LogType]] = {"complexity_score": "float64", "complexity_level": "string"}

    def check(self, metadata: ModelMetadata) -> None:
        for head in HEADS:
            _head(metadata, head)

    def verdicts(self, logits: np.ndarray, metadata: ModelMetadata) -> list[IntentVerdict]:
        if logits.ndim != 2 or logits.shape[1] != metadata.num_outputs:
            raise ValueError(f"expected logits of shape [batch, {metadata.num_outputs}], got {list(logits.shape)}")
        intent_head, complexity_head = (_head(metadata, head) for head in HEADS)
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

    def log_row(self, verdict: IntentVerdict) -> Prediction:
        extras: dict[str, float | str] = {
            "complexity_score": verdict.complexity_score,
            "complexity_level": verdict.complexity_level,
        }
        return Prediction(verdict.intent, verdict.confidence, extras)

    def output(self, verdict: IntentVerdict, *, truncated: bool, features: dict[str, float]) -> IntentOutput:
        ranked = sorted(verdict.all_intents.items(), key=lambda kv: kv[1], reverse=True)[:TOP_INTENTS]
        return IntentOutput(
            intent=verdict.intent,
            confidence=verdict.confidence,
            all_intents=verdict.all_intents,
            top_intents=[IntentScore(intent=i, probability=p) for i, p in ranked],
            complexity_score=verdict.complexity_score,
            complexity_level=verdict.complexity_level,  # one of COMPLEXITY_LEVELS
            truncated=truncated,
            features=features,
        )

    @staticmethod
    def answer_label(output: IntentOutput) -> str:
        return output.intent

    def answer_labels(self, labels: Sequence[str]) -> list[str]:
        return [label for label in labels if label not in HEADS[1:]]  # the complexity head's output is a score

    def compare(self, production: IntentOutput, staging: IntentOutput) -> Comparison:
        return Comparison(
            {
                "intent": production.intent == staging.intent,
                "complexity_level": production.complexity_level == staging.complexity_level,
            },
            abs(production.confidence - staging.all_intents.get(production.intent, 0.0)),
        )
