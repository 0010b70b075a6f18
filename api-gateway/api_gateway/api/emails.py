"""What the spam routes classify, from either form of input: a body with an optional subject (JSON
``email_content``), or a whole raw message (JSON ``raw_email``, or a ``message/rfc822`` request body),
read by the platform's one e-mail parser (:mod:`serving_common.email_message`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from api_gateway.api.schemas import EmailIn, FeedbackIn
from serving_common.email_message import parse_email
from serving_common.errors import InvalidInput, PlatformError
from serving_common.features import compose_email_text
from serving_common.schemas import TransformerInstance

P = ParamSpec("P")
T = TypeVar("T")


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


async def read_raw(raw: Sequence[str | bytes | None], read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``read(*args, **kwargs)``, which reads the raw messages ``raw`` (None: not a raw message): on a worker thread
    when there is one, so the event loop answers everyone else meanwhile. Reading is bounded, not always short: an
    ordinary message takes about a millisecond, one 2 MiB HTML message 50-80 ms or up to 1.6 s when crafted, and a
    crafted one of some hundred KB 0.7 s of header parsing before the parser's bound refuses it
    (``serving_common.email_message``); the thread hop costs about 0.1 ms. Requests without raw mail (the
    busiest) are read inline."""
    if any(m is not None for m in raw):
        return await run_in_threadpool(read, *args, **kwargs)
    return read(*args, **kwargs)
