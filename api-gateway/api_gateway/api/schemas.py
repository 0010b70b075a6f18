"""The public REST API's request and response bodies (what /docs shows)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from serving_common.schemas import ConfidenceLevel

SPAM_EXAMPLE = "WINNER!! Claim your free prize now, call 09061701461"


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
                }
            ]
        },
    )

    email_content: str = Field(description="The email body (plain text).")
    email_id: str | None = Field(default=None, max_length=256, description="Your id for the email, echoed back.")
    subject: str | None = Field(default=None, max_length=10_000, description="Subject line; read with the body.")
    sender: str | None = Field(default=None, max_length=512, description="Sender address (recorded, not scored).")

    @field_validator("email_content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain non-whitespace text")
        return value


class BatchPredictIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"emails": [SPAM_EXAMPLE, {"email_content": "See you at lunch?", "email_id": "msg-2"}]}]
        },
    )

    emails: list[EmailIn | str] = Field(min_length=1, description="Email texts, or objects like /predict's body.")

    def as_emails(self) -> list[EmailIn]:
        return [EmailIn(email_content=e) if isinstance(e, str) else e for e in self.emails]

    @field_validator("emails")
    @classmethod
    def _strings_not_blank(cls, emails: list[EmailIn | str]) -> list[EmailIn | str]:
        for i, email in enumerate(emails):
            if isinstance(email, str) and not email.strip():
                raise ValueError(f"email {i} must contain non-whitespace text")
        return emails


class SpamVerdict(BaseModel):
    prediction: Literal["spam", "ham"]
    spam_probability: float = Field(ge=0, le=1, description="Model probability that the email is spam.")
    confidence: ConfidenceLevel = Field(description="Distance from the model's decision threshold, as a level.")
    truncated: bool = Field(description="True when the text exceeded the model's max tokens and was cut.")
    email_id: str | None = None


class ServedBy(BaseModel):
    environment: Literal["staging", "production"]
    model_name: str
    model_version: str
    request_id: str
    latency_ms: float = Field(description="Time spent in the gateway, upstream call included.")


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
                    "model_version": "v1-3f2a9c0d1e2b",
                    "request_id": "6f1c...",
                    "latency_ms": 12.4,
                }
            ]
        }
    )


class BatchPredictOut(ServedBy):
    predictions: list[SpamVerdict] = Field(description="One verdict per email, in input order.")
    count: int


class EnvironmentReadiness(BaseModel):
    ready: bool
    url: str


class ReadyOut(BaseModel):
    ready: bool = Field(description="Whether the default environment can serve.")
    default_environment: str
    environments: dict[str, EnvironmentReadiness]


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
