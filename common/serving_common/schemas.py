"""The internal wire format between the api-gateway and the feature transformers (KServe v1).

Request ``POST /v1/models/{name}:predict``::

    {"instances": [{"text": "...", "subject": "..."}]}

Response::

    {"predictions": [{"label": "spam", "spam_probability": 0.98, "confidence": "high", ...}],
     "model_name": "spam-detector", "model_version": "..."}

Both sides import these models, so a change to the contract is one change. Spam models answer with
:class:`SpamResponse`, intent models with :class:`IntentResponse`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

ConfidenceLevel = Literal["low", "medium", "high"]


class TransformerInstance(BaseModel):
    text: str
    subject: str | None = None
    # The caller's request id, per row: the gateway merges concurrent callers into one call, and each
    # row's id reaches the inference log. Absent: the call's X-Request-ID.
    request_id: str | None = Field(default=None, max_length=128)


class TransformerRequest(BaseModel):
    instances: list[TransformerInstance] = Field(min_length=1)
    features: bool = Field(
        default=True,
        description="answer each row's features (they are logged either way); the gateway, which does not "
        "pass them on, asks without",
    )


class SpamOutput(BaseModel):
    label: str
    spam_probability: float = Field(ge=0.0, le=1.0)
    confidence: ConfidenceLevel
    truncated: bool = Field(description="the text was longer than the model's max tokens and was cut")
    features: dict[str, float]


class IntentScore(BaseModel):
    intent: str
    probability: float = Field(ge=0.0, le=1.0)


class IntentOutput(BaseModel):
    intent: str
    confidence: float = Field(ge=0.0, le=1.0, description="probability of the predicted intent")
    all_intents: dict[str, float]
    top_intents: list[IntentScore] = Field(description="the three most likely intents, most likely first")
    complexity_score: float = Field(ge=0.0, le=1.0)
    complexity_level: Literal["simple", "moderate", "complex"]
    truncated: bool
    features: dict[str, float]


class TaskResponse(BaseModel):
    """What every task's response carries: its predictions, in input order, and the model that made them."""

    predictions: Sequence[BaseModel]
    model_name: str
    model_version: str


class SpamResponse(TaskResponse):
    predictions: list[SpamOutput]


class IntentResponse(TaskResponse):
    predictions: list[IntentOutput]


class ModelInfo(BaseModel):
    """What ``GET /v1/models/{name}/metadata`` of a KServe component returns."""

    name: str
    version: str
    task: str
    labels: list[str]
    max_length: int
    decision_threshold: float | None = None
