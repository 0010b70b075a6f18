"""One object per task (spam, intent): its typed verdicts, how logits become them, how a verdict is
logged, sent on the wire and read back. The feature transformer, the baseline generator and the bench
ask the task instead of branching on it. A third task is not yet one class here alone: the gateway's
routes, its model kinds and URLs, shadow comparison and the log's columns still name spam and intent.

The numbers (softmax, thresholds, confidence levels) are :mod:`serving_common.postprocess`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from serving_common.model_dir import HeadSpec, ModelMetadata, Task
from serving_common.postprocess import complexity_level, confidence_level, sigmoid, softmax
from serving_common.schemas import (
    ConfidenceLevel,
    IntentOutput,
    IntentResponse,
    IntentScore,
    SpamOutput,
    SpamResponse,
)

TOP_INTENTS = 3


@dataclass(frozen=True)
class Prediction:
    """A verdict as the inference log keeps it (one column set for every task)."""

    label: str
    probability: float
    complexity_score: float | None = None
    complexity_level: str | None = None


@dataclass(frozen=True)
class SpamVerdict:
    label: str
    spam_probability: float  # of the model's positive label
    confidence: ConfidenceLevel


@dataclass(frozen=True)
class IntentVerdict:
    intent: str
    confidence: float
    all_intents: dict[str, float]
    complexity_score: float
    complexity_level: str


VerdictT = TypeVar("VerdictT", SpamVerdict, IntentVerdict)
OutputT = TypeVar("OutputT", SpamOutput, IntentOutput)
ResponseT = TypeVar("ResponseT", SpamResponse, IntentResponse)


class ModelTask(ABC, Generic[VerdictT, OutputT, ResponseT]):
    """What a model family's verdicts are, from logits to the log row and the wire."""

    task: ClassVar[Task]
    response_model: type[ResponseT]

    @abstractmethod
    def verdicts(self, logits: np.ndarray, metadata: ModelMetadata) -> list[VerdictT]:
        """One verdict per row of a [batch, outputs] logits tensor; ValueError when it does not fit."""

    @abstractmethod
    def log_row(self, verdict: VerdictT) -> Prediction: ...

    @abstractmethod
    def output(self, verdict: VerdictT, *, truncated: bool, features: dict[str, float]) -> OutputT: ...

    @staticmethod
    @abstractmethod
    def answer_label(output: OutputT) -> str:
        """The label a wire output names (the gateway counts predictions by it)."""

    def response(
        self,
        verdicts: Sequence[VerdictT],
        *,
        truncated: Sequence[bool],
        features: Sequence[dict[str, float]],
        model_name: str,
        model_version: str,
    ) -> ResponseT:
        outputs = [
            self.output(v, truncated=cut, features=feats)
            for v, cut, feats in zip(verdicts, truncated, features, strict=True)
        ]
        return self.response_model(predictions=outputs, model_name=model_name, model_version=model_version)


class SpamTask(ModelTask[SpamVerdict, SpamOutput, SpamResponse]):
    task = Task.SPAM
    response_model = SpamResponse

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


def _head(metadata: ModelMetadata, name: str) -> HeadSpec:
    for head in metadata.heads:
        if head.name == name:
            return head
    raise ValueError(f"model {metadata.name} has no '{name}' head; heads: {[h.name for h in metadata.heads]}")


class IntentTask(ModelTask[IntentVerdict, IntentOutput, IntentResponse]):
    """Intent (softmax head) and complexity (sigmoid head) from one forward pass."""

    task = Task.INTENT
    response_model = IntentResponse

    def verdicts(self, logits: np.ndarray, metadata: ModelMetadata) -> list[IntentVerdict]:
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

    def log_row(self, verdict: IntentVerdict) -> Prediction:
        return Prediction(verdict.intent, verdict.confidence, verdict.complexity_score, verdict.complexity_level)

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


SPAM = SpamTask()
INTENT = IntentTask()
# Looked up at run time, a task's verdict, output and response types travel together by construction.
TASKS: dict[Task, ModelTask[Any, Any, Any]] = {SPAM.task: SPAM, INTENT.task: INTENT}


def task_of(metadata: ModelMetadata) -> ModelTask[Any, Any, Any]:
    return TASKS[metadata.task]
