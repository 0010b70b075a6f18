"""The public REST API's request and response bodies (what /docs shows)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from api_gateway.inference import ServedBy
from api_gateway.readiness import EnvironmentReadiness
from serving_common.normalization import is_blank
from serving_common.schemas import ConfidenceLevel, IntentScore

SPAM_EXAMPLE = "WINNER!! Claim your free prize now, call 09061701461"
RAW_EMAIL_EXAMPLE = (
    "From: Prize Desk <promo@example.com>\r\nTo: you@example.org\r\nSubject: You won\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "WINNER!! Claim your free prize now, call 09061701461\r\n"
)
INTENT_EXAMPLE = "Write a Python function that merges two sorted lists, with unit tests"


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. unknown_environment.")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorOut(BaseModel):
    """Every error of every component has this shape."""

    error: ErrorDetail
    request_id: str | None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "Unknown X-Environment",
        401: "API keys are on and no valid key was sent",
        403: "The key may not use this environment",
        408: "The request body did not arrive within the body timeout",
        413: "Body, text or batch too large",
        415: "The body came compressed (Content-Encoding); send it as it is",
        422: "Invalid body",
        429: "The key's rate limit is exceeded",
        431: "Request head too large, or too many header fields",
        502: "The InferenceService answered with an error",
        503: "The environment's InferenceService is unavailable, or the gateway is overloaded",
        504: "The InferenceService did not answer in time",
    }.items()
}


def _not_blank(value: str, what: str = "text") -> str:
    # The same normalisation the model's input goes through: text that is only whitespace, control
    # or unassigned characters is empty to the model, so it is refused here (422), not upstream.
    if is_blank(value):
        raise ValueError(f"{what} must contain visible text")
    return value


class EmailIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email_content": SPAM_EXAMPLE,
                    "email_id": "msg-001",
                    "subject": "You won",
                    "sender": "promo@example.com",
                },
                {"raw_email": RAW_EMAIL_EXAMPLE, "email_id": "msg-002"},
            ]
        },
    )

    email_content: str | None = Field(
        default=None, description="The email body (plain text). Give this or `raw_email`, not both."
    )
    raw_email: str | None = Field(
        default=None,
        description="The whole raw message (RFC 822 headers, MIME parts, any transfer encoding), as a mail server "
        "hands it over; subject, sender and body are read from it. Give this or `email_content`, not both.",
    )
    email_id: str | None = Field(default=None, max_length=256, description="Your id for the email, echoed back.")
    subject: str | None = Field(default=None, max_length=10_000, description="Subject line; read with the body.")
    sender: str | None = Field(default=None, max_length=512, description="Sender address (recorded, not scored).")

    @field_validator("email_content")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        return None if value is None else _not_blank(value, "email_content")

    @model_validator(mode="after")
    def _one_source(self) -> EmailIn:
        if (self.email_content is None) == (self.raw_email is None):
            raise ValueError("give exactly one of email_content (the body) and raw_email (the whole message)")
        if self.raw_email is not None and (self.subject is not None or self.sender is not None):
            raise ValueError("subject and sender are read from raw_email; do not send them beside it")
        return self


def _email_object(value: Any) -> Any:
    """A batch item given as a bare string is that email's body (``email_content``)."""
    if isinstance(value, str):
        return {"email_content": value}
    if not isinstance(value, dict | EmailIn):
        raise ValueError("each email is a string (its body) or an object with email_content or raw_email")
    return value


# An object, or a string read as one; documented as either. One model to validate, so an error names the field
# at fault (``emails.1.email_content``), not one of pydantic's union members.
BatchEmail = Annotated[EmailIn, BeforeValidator(_email_object, json_schema_input_type=EmailIn | str)]


class BatchPredictIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"emails": [SPAM_EXAMPLE, {"email_content": "See you at lunch?", "email_id": "msg-2"}]}]
        },
    )

    emails: list[BatchEmail] = Field(
        min_length=1, description="Email texts, or objects like /predict's JSON body (`email_content` or `raw_email`)."
    )


class SpamVerdict(BaseModel):
    prediction: Literal["spam", "ham"]
    spam_probability: float = Field(ge=0, le=1, description="Model probability that the email is spam.")
    confidence: ConfidenceLevel = Field(description="Distance from the model's decision threshold, as a level.")
    truncated: bool = Field(description="True when the text exceeded the model's max tokens and was cut.")
    email_id: str | None = None


class PredictOut(SpamVerdict, ServedBy):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "prediction": "spam",
                    "spam_probability": 0.9987,
                    "confidence": "high",
                    "truncated": False,
                    "email_id": "msg-001",
                    "environment": "staging",
                    "model_name": "spam-detector",
                    "model_version": "v2-a59c0a1a7452",
                    "request_id": "6f1c...",
                    "latency_ms": 12.4,
                }
            ]
        }
    )


class BatchPredictOut(ServedBy):
    predictions: list[SpamVerdict] = Field(description="One verdict per email, in input order.")
    count: int


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="The text to classify.")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return _not_blank(value)


class TextBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1, description="Texts, classified in one forward pass.")

    @field_validator("texts")
    @classmethod
    def _none_blank(cls, texts: list[str]) -> list[str]:
        for i, text in enumerate(texts):
            _not_blank(text, f"text {i}")
        return texts


class IntentIn(TextIn):
    model_config = ConfigDict(json_schema_extra={"examples": [{"text": INTENT_EXAMPLE}]})


class IntentBatchIn(TextBatchIn):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"texts": [INTENT_EXAMPLE, "Translate 'good morning' into Spanish"]}]}
    )


class Complexity(BaseModel):
    score: float = Field(ge=0, le=1)
    level: Literal["simple", "moderate", "complex"] = Field(description="simple < 0.33 <= moderate < 0.67 <= complex")


class IntentVerdictOut(BaseModel):
    intent: str
    confidence: float = Field(ge=0, le=1, description="Probability of the predicted intent.")
    all_intents: dict[str, float] = Field(description="Probability of every intent.")
    top_intents: list[IntentScore] = Field(description="The three most likely intents.")
    complexity: Complexity
    truncated: bool


class IntentOut(IntentVerdictOut, ServedBy):
    pass


class IntentBatchOut(ServedBy):
    predictions: list[IntentVerdictOut] = Field(description="One verdict per text, in input order.")
    count: int


class TaskOut(ServedBy):
    task: str = Field(description="The task that answered.")
    prediction: dict[str, Any] = Field(description="The task's verdict as its transformer gives it.")


class TaskBatchOut(ServedBy):
    task: str = Field(description="The task that answered.")
    predictions: list[dict[str, Any]] = Field(description="One verdict per text, in input order.")
    count: int


class FeedbackIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"request_id": "6f1c2b9e0d8a4e7f9b3c5d1a2e4f6a8b", "label": "ham"},
                {"request_id": "b2c4...", "position": 3, "task": "intent", "label": "code_generation"},
                {"request_id": "9d0e...", "label": "spam", "raw_email": RAW_EMAIL_EXAMPLE},
            ]
        },
    )

    request_id: str = Field(min_length=1, max_length=128, description="The request_id a prediction answered.")
    position: int = Field(default=0, ge=0, description="The row of a batch prediction (0 for a single one).")
    task: str = Field(default="spam", description="The task that answered: spam, intent, or a plug-in's.")
    label: str = Field(min_length=1, description="The true label: spam/ham, or the true intent.")
    text: str | None = Field(
        default=None,
        description="Optional: the text that was classified (`email_content`, or the intent text), so the label "
        "can train the next model. Stored with the label (the inference log keeps no texts); the retraining "
        "export checks it against the prediction's hash when the log has one. Give this or `raw_email`.",
    )
    subject: str | None = Field(default=None, max_length=10_000, description="The subject sent beside `text`.")
    raw_email: str | None = Field(
        default=None, description="Optional: the whole raw message that was classified, instead of `text`."
    )

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str | None) -> str | None:
        return None if value is None else _not_blank(value, "text")

    @model_validator(mode="after")
    def _one_text(self) -> FeedbackIn:
        if self.text is not None and self.raw_email is not None:
            raise ValueError("give at most one of text and raw_email")
        if self.subject is not None and self.text is None:
            raise ValueError("subject goes with text (raw_email carries its own)")
        return self


class FeedbackOut(BaseModel):
    request_id: str
    position: int
    label: str
    matched: bool = Field(
        description="This gateway still remembered the prediction (counted live); false: stored, joined offline."
    )
    predicted: str | None = Field(description="The label the model gave, when remembered.")
    model_version: str | None = Field(description="The model version that answered, when remembered.")
    counted: bool = Field(description="Counted now; false for a second label of the same row (it replaces the first).")
    environment: Literal["staging", "production"]


class ReadyOut(BaseModel):
    ready: bool = Field(description="Whether the default environment can serve.")
    default_environment: str
    environments: dict[str, EnvironmentReadiness]


class ServedModel(BaseModel):
    name: str
    version: str | None = Field(description="None when the service could not be asked.")
    task: str | None
    decision_threshold: float | None = Field(
        default=None,
        description="The probability of the positive label at and above which `prediction` is that label (chosen "
        "on validation data; a client may apply its own cut to the probability). None for a model without one, or "
        "when the service could not be asked.",
    )
    ready: bool
    url: str


class ModelsOut(BaseModel):
    environments: dict[str, list[ServedModel]]


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
