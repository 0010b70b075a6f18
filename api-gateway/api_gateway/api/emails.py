"""What the spam routes classify, from either form of input: a body with an optional subject (JSON
``email_content``), or a whole raw message (JSON ``raw_email``, or a ``message/rfc822`` request body),
read by the platform's one e-mail parser (:mod:`serving_common.email_message`)."""

from __future__ import annotations

from dataclasses import dataclass

from api_gateway.api.schemas import EmailIn, FeedbackIn
from serving_common.email_message import parse_email
from serving_common.errors import InvalidInput, PlatformError
from serving_common.features import compose_email_text
from serving_common.schemas import TransformerInstance


@dataclass(frozen=True)
class EmailText:
    body: str
    subject: str | None
    sender: str | None
    email_id: str | None = None

    def instance(self) -> TransformerInstance:
        return TransformerInstance(text=self.body, subject=self.subject)


def from_raw(raw: bytes | str, email_id: str | None = None) -> EmailText:
    parsed = parse_email(raw)
    return EmailText(parsed.body, parsed.subject, parsed.sender, email_id)


def from_json(email: EmailIn) -> EmailText:
    if email.raw_email is not None:
        return from_raw(email.raw_email, email.email_id)
    return EmailText(email.email_content or "", email.subject, email.sender, email.email_id)


def from_batch(emails: list[EmailIn]) -> list[EmailText]:
    """Every email of a batch, or the first one's error naming its position (nothing is sent upstream)."""
    texts = []
    for index, email in enumerate(emails):
        try:
            texts.append(from_json(email))
        except PlatformError as exc:
            exc.message = f"email {index}: {exc.message}"
            exc.details = {**exc.details, "index": index}
            raise
    return texts


def labelled_text(feedback: FeedbackIn) -> str | None:
    """The text the model read, as a label's sender gave it (``text`` and ``subject``, or ``raw_email``),
    composed and normalised as the transformer does; None when none was given."""
    if feedback.raw_email is not None:
        email = from_raw(feedback.raw_email)
        body, subject = email.body, email.subject
    elif feedback.text is not None:
        body, subject = feedback.text, feedback.subject
    else:
        return None
    text = compose_email_text(body, subject)
    if not text:
        raise InvalidInput("the labelled text is empty once normalised")
    return text
