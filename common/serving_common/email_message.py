"""The one reader of raw e-mail (RFC 822 / RFC 5322 with MIME): what the spam model reads of a message.

Serving (the gateway's ``message/rfc822`` and ``raw_email`` input) and training (the SpamAssassin corpus) both call
:func:`parse_email`, so the model is trained on exactly the text it is later shown. It keeps the subject, the sender
and the body (less a mailing list's subject tag and footer: :mod:`serving_common.mailing_list`): the first
``text/plain`` part that is not an attachment, else the first ``text/html`` one turned into the text a reader sees
(hidden elements left out), and the HTML where the two are versions of one multipart/alternative and the plain one
does not say what the HTML shows (most of the HTML's words missing from it: a "view this in HTML" stub, or plain
text that hides what the HTML says); the message's own parts, not those of a message attached to it (a forwarded
message is read only when there is nothing else). Transfer encodings (base64, quoted-printable) and charsets are
decoded; attachments are counted and skipped; the input is bounded in bytes and the body text in characters (the
model reads a few hundred tokens of it), and the work of reading it is bounded too (MIME depth and parts, each
header value's length and the header characters parsed, the HTML tags and characters parsed), so that reading costs
at most in proportion to the size: about 1-3 ms for an ordinary message and at most 0.25 s of CPU on the Xeon VM for
the worst 2 MiB ones found (numeric character references; 2 MiB of HTML tags took 1.4-2.2 s before the HTML bound),
where a crafted header once took minutes or all memory.
"""

from __future__ import annotations

import codecs
import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.errors import MessageDefect, MissingHeaderBodySeparatorDefect
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy, Policy
from typing import Any, Self

from serving_common.errors import InvalidInput, PayloadTooLarge
from serving_common.features import compose_email_text
from serving_common.html_text import HtmlBudget, html_to_text
from serving_common.mailing_list import strip_list_wrapper

# A raw message larger than this is refused (413): a mail server hands over whole messages, attachments
# included, but the model reads only the first few thousand characters of the body.
MAX_EMAIL_BYTES = 2 * 1024 * 1024
# The body text kept (characters, after decoding): far more than the model's 512 tokens, and what the
# features (lengths, counts) are computed on, in training and serving alike.
MAX_BODY_CHARS = 20_000
# MIME parts nested deeper than this are refused (422): mail clients nest a few levels (mixed, alternative,
# related, a forwarded message), and the standard library's parser recurses once per level, so a small crafted
# message nested a thousand deep would otherwise exhaust the stack.
MAX_MIME_DEPTH = 50
# More MIME parts than this are refused (422): real mail has a few (the SpamAssassin corpus at most 22; a MIME
# digest of a busy list some hundreds), and the parser spends about 0.2 ms on each (50,000 two-line parts in
# 2 MiB took 10 s of CPU).
MAX_MIME_PARTS = 1_000
# A header value is cut to this many characters before the standard library parses it (the subject, the sender
# and each part's Content-* fields are the ones read). Its structured-header parsers are superlinear: a 64 KB
# From took 6 s, a 256 KB Content-Type 20 s, and 2 MB of encoded words in a Subject more than 20 GB of memory.
# The corpus' longest subject is 746 characters; the model reads far fewer than this of it.
MAX_HEADER_CHARS = 1_000
# Characters of distinct header values parsed for one message, past which it is refused (422): parsing costs
# 3-7 us a character, so this bounds a message's header work under a second (0.7 s measured at the bound)
# however its parts and fields are arranged (500 parts of 1,000-character Content-* fields took 10 s). A value
# read again is not parsed again. The corpus' most is 1,057.
MAX_PARSED_HEADER_CHARS = 100_000
# Python's text codecs that are not the character set of any mail (IANA's charset registry has none of them): a
# part that declares one is read as a part that declares none, as a mail client reads it. Punycode (RFC 3492's
# encoding of one domain label) decodes in quadratic time, in Python code that holds the GIL: a 2 MiB body sent
# as ``charset=punycode`` held the gateway for four minutes (400 KB: 5 s).
NOT_MAIL_CHARSETS = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined"})
# An HTML part's own charset, where its MIME header names none: the first of its ``<meta>`` elements that names
# one, within the bytes browsers read for it. 10 spam messages of the SpamAssassin corpus name Big5, GB2312,
# KOI8-R or Windows-1254 there alone, and were read as Windows-1252 (``Ïðèâåò`` for a Windows-1251 ``Привет``).
_META_CHARSET = re.compile(rb"<meta\s[^>]*?charset\s*=\s*[\"']?\s*([-\w.:]+)", re.IGNORECASE)
META_PRESCAN_BYTES = 1024
log = logging.getLogger(__name__)


class MalformedEmail(InvalidInput):
    """The input is not a readable RFC 822 message (no header fields, or no text to read), or one past the
    bounds on its structure that keep reading it cheap."""

    code = "malformed_email"


@dataclass
class _HeaderWork:
    """One message's header parsing: the values parsed so far, by field name and value, and their characters."""

    parsed: dict[tuple[str, str], Any] = field(default_factory=dict)
    chars: int = 0


class _BoundedHeaders(EmailPolicy):
    """``policy.default`` with header parsing bounded: each value is cut to :data:`MAX_HEADER_CHARS`, parsed once
    per message however often it is read (the email package parses a field again on every read: a part's
    Content-Type five times or more), and the characters parsed for one message bounded by
    :data:`MAX_PARSED_HEADER_CHARS`. ``work`` is the message's :class:`_HeaderWork`, shared by the clone of this
    policy each parse makes and all its parts. ``header_fetch_parse`` is the policy's documented hook for how a
    stored value becomes a header object."""

    work: _HeaderWork | None = None

    def clone(self, **kw: Any) -> Self:  # typed to take ``work``, which the base class's clone sets like any field
        return super().clone(**kw)

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):  # already a header object
            return value
        value = value[:MAX_HEADER_CHARS]
        if self.work is None:
            return self._parse(name, value)
        key = (name, value)
        if key not in self.work.parsed:
            self.work.chars += len(value)
            if self.work.chars > MAX_PARSED_HEADER_CHARS:
                raise MalformedEmail(
                    f"the message's header fields are too large to read: more than {MAX_PARSED_HEADER_CHARS} "
                    "characters of them",
                    details={"max_parsed_header_chars": MAX_PARSED_HEADER_CHARS},
                )
            self.work.parsed[key] = self._parse(name, value)
        return self.work.parsed[key]

    def _parse(self, name: str, value: str) -> Any:
        try:
            return super().header_fetch_parse(name, value)
        except Exception:  # its parsers raise on some malformed values (IndexError on ``text/plain; name*0*``)
            return super().header_fetch_parse(name, value.split(";", 1)[0])  # the value, less its parameters


_POLICY = _BoundedHeaders()


@dataclass(frozen=True)
class ParsedEmail:
    subject: str | None
    sender: str | None
    body: str
    # The MIME type the body was read from (text/plain or text/html); attachments skipped.
    body_type: str
    attachments: int

    def model_text(self) -> str:
        """The text the spam model reads: subject, then body, normalised (``compose_email_text``)."""
        return compose_email_text(self.body, self.subject)


def parse_email(raw: bytes | str, *, max_bytes: int = MAX_EMAIL_BYTES) -> ParsedEmail:
    """Read one raw message. Raises :class:`PayloadTooLarge` over ``max_bytes`` and :class:`MalformedEmail`
    when there are no header fields or no text part; never anything else for any input."""
    data = raw.encode("utf-8", "replace") if isinstance(raw, str) else raw
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"the message has {len(data)} bytes; the limit is {max_bytes}", details={"max_email_bytes": max_bytes}
        )
    try:
        return _read(data)
    except MalformedEmail:
        raise
    except RecursionError:
        raise _too_deep() from None
    except Exception:  # the standard library's email package, on input no test has shown it yet
        log.warning("a raw message could not be read", exc_info=True)
        raise MalformedEmail(
            "the message could not be read: its MIME structure or header fields are malformed"
        ) from None


def _read(data: bytes) -> ParsedEmail:
    message = _parse(data)
    if not message.keys() or any(isinstance(d, MissingHeaderBodySeparatorDefect) for d in _defects(message)):
        raise MalformedEmail(
            "not an RFC 822 message: it must start with header fields (From:, Subject:, ...) and a blank line "
            "before the body"
        )
    own, forwarded, attachments = _text_parts(message)  # raises MalformedEmail past MAX_MIME_DEPTH
    budget = HtmlBudget()  # the HTML html.parser reads of this message, all its parts together
    body, body_type = _first_text(own, budget)
    if not body:  # nothing of its own to read (a message forwarded as an attachment): the forwarded one's text
        body, body_type = _first_text(forwarded, budget)
    charset = functools.cache(lambda: _charset_of([*own, *forwarded]))  # asked only of 8-bit header fields

    def header(name: str) -> str | None:
        return _header(message, name, charset)

    subject, sender = header("subject"), header("from")
    subject, body = strip_list_wrapper(subject, body, header)
    if not body.strip() and not (subject and subject.strip()):
        raise MalformedEmail("the message has no text to classify: no subject and no text/plain or text/html body")
    return ParsedEmail(subject, sender, body[:MAX_BODY_CHARS], body_type or "text/plain", attachments)


def _parse(data: bytes) -> Message:
    """The standard library's parser, stopped with a 422 once it has made :data:`MAX_MIME_PARTS` parts or parsed
    :data:`MAX_PARSED_HEADER_CHARS` characters of header values."""
    made = 0

    def new_part(policy: Policy) -> EmailMessage:
        nonlocal made
        made += 1
        if made > MAX_MIME_PARTS:
            raise MalformedEmail(
                f"the message has more than {MAX_MIME_PARTS} MIME parts", details={"max_mime_parts": MAX_MIME_PARTS}
            )
        return EmailMessage(policy)

    return BytesParser(policy=_POLICY.clone(message_factory=new_part, work=_HeaderWork())).parsebytes(data)


def _defects(message: Message) -> list[MessageDefect]:
    return list(getattr(message, "defects", []))


def _header(message: Message, name: str, charset: Callable[[], str]) -> str | None:
    """A header's decoded value (RFC 2047 encoded words included); the raw value when it cannot be parsed. A value
    written in 8-bit bytes that are not UTF-8 (RFC 6532's) is read in ``charset()``, the message's own, as mail
    clients guess it, where the email package reads each such byte as U+FFFD (``Save �5.00``): 35 subjects of the
    SpamAssassin corpus (6 of them ham: ``Robbie Williams signs £80m deal``)."""
    try:
        raw = next((v for k, v in message.raw_items() if k.lower() == name), None)
        if raw is None:
            return None
        if not raw.isascii():
            data = raw.encode("ascii", "surrogateescape")  # the bytes the parser kept undecoded
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return str(message.policy.header_fetch_parse(name, _decode_8bit(data, charset())))
        return str(message.get(name))
    except MalformedEmail:
        raise
    except Exception:  # the email package can raise on pathological header values
        raw = next((v for k, v in message.raw_items() if k.lower() == name), None)
        return None if raw is None else str(raw)[:MAX_HEADER_CHARS]


def _decode_8bit(data: bytes, charset: str) -> str:
    """8-bit bytes in ``charset``; in Windows-1252 where that is ASCII (a message that names US-ASCII, which no
    8-bit byte is)."""
    return data.decode("cp1252" if charset == "ascii" else charset, errors="replace")


def _charset_of(parts: list[_TextPart]) -> str:
    """The charset a message is written in, for its header fields in 8-bit bytes that are not UTF-8: that of its
    first text part that names one (in its MIME header, or in its head for HTML), else Windows-1252."""
    for candidate in parts:
        part = candidate.part
        named = _codec(part.get_content_charset())
        if named is None:
            payload = part.get_payload(decode=True)
            named = _head_codec(part, payload) if isinstance(payload, bytes) else None
        if named:
            return named
    return "cp1252"


@dataclass(frozen=True)
class _TextPart:
    part: Message
    # The multipart/alternative it is one version of (the nearest above it; None outside one): a client shows
    # one of its versions, the HTML one where it can.
    alternative: Message | None


def _text_parts(message: Message) -> tuple[list[_TextPart], list[_TextPart], int]:
    """The message's own text parts in order; the text parts of messages attached to it (``message/rfc822``,
    a forwarded message), read only when it has no text of its own; and how many parts were skipped as
    attachments (an attached message counts as one)."""
    own: list[_TextPart] = []
    forwarded: list[_TextPart] = []
    attachments = 0

    def visit(part: Message, into: list[_TextPart], alternative: Message | None, depth: int = 0) -> None:
        nonlocal attachments
        if depth > MAX_MIME_DEPTH:
            raise _too_deep()
        if part is not message and part.get_content_maintype() == "message":
            attachments += 1  # an attached message (or message/delivery-status and the like) is one attachment
            if part.is_multipart():  # message/rfc822 holds the attached message as its one subpart
                for inner in _subparts(part):
                    visit(inner, forwarded, None, depth + 1)
        elif part.is_multipart():
            inner_alternative = part if part.get_content_subtype() == "alternative" else alternative
            for sub in _subparts(part):
                visit(sub, into, inner_alternative, depth + 1)
        elif part.get_content_disposition() == "attachment" or part.get_content_maintype() != "text":
            attachments += 1
        else:
            into.append(_TextPart(part, alternative))

    visit(message, own, None)
    return own, forwarded, attachments


def _subparts(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _too_deep() -> MalformedEmail:
    return MalformedEmail(
        f"the message's MIME parts are nested more than {MAX_MIME_DEPTH} levels deep",
        details={"max_mime_depth": MAX_MIME_DEPTH},
    )


def _first_text(parts: list[_TextPart], budget: HtmlBudget) -> tuple[str, str]:
    """The first non-blank ``text/plain`` part's text, else the first non-blank ``text/html`` part's, as text;
    with the MIME type it was read from. A plain part that is one version of a multipart/alternative whose HTML
    version says something else (:func:`_says_other_things`) gives way to the HTML, which is what a client
    shows."""
    for kind in ("plain", "html"):
        for candidate in parts:
            if candidate.part.get_content_subtype() != kind:
                continue
            text = _text_of(candidate.part, budget)
            if not text.strip():
                continue
            if kind == "plain" and candidate.alternative is not None:
                shown = _html_version(parts, candidate.alternative, budget)
                if shown and _says_other_things(shown, text):
                    return shown, "text/html"
            return text, f"text/{kind}"
    return "", ""


def _html_version(parts: list[_TextPart], alternative: Message, budget: HtmlBudget) -> str:
    """The text of the first non-blank ``text/html`` part of ``alternative`` ("" when it has none)."""
    for candidate in parts:
        if candidate.alternative is alternative and candidate.part.get_content_subtype() == "html":
            text = _text_of(candidate.part, budget)
            if text.strip():
                return text
    return ""


def _text_of(part: Message, budget: HtmlBudget) -> str:
    """A text part's text as a reader sees it: decoded, and an HTML part turned into text (parsed within the
    message's ``budget``)."""
    text = _decode(part)
    return html_to_text(text, budget) if part.get_content_subtype() == "html" else text


# Words of three letters or more (any script), as the two versions of a message are compared by.
_WORDS = re.compile(r"[^\W\d_]{3,}")
# Past this share of the HTML version's distinct words missing from the plain version, the two say different
# things (Rspamd's R_PARTS_DIFFER compares a message's text parts alike, at a 50 % difference).
MAX_UNSHARED_WORDS = 0.5


def _says_other_things(shown: str, plain: str) -> bool:
    """Whether most of the words a reader sees in the HTML version are absent from the plain version: a stub
    ("your mail program cannot show this newsletter") or a plain text that is not what the HTML shows. Of the
    SpamAssassin corpus' 6,046 messages, 39 are read by their HTML version for it (21 hard ham, 18 spam), among
    them ham and spam whose plain versions are the same stub ("We attempted to deliver this message to you with
    HTML formatting") and so read alike though their HTML does not."""
    shown_words = set(_WORDS.findall(shown.lower()))
    if not shown_words:
        return False
    return len(shown_words - set(_WORDS.findall(plain.lower()))) > MAX_UNSHARED_WORDS * len(shown_words)


def _decode(part: Message) -> str:
    """The part's text: transfer encoding undone, then its charset. Undeclared (or unknown): UTF-8 where the bytes
    are UTF-8; else, for HTML, the charset the document names in its head (:func:`_head_codec`); else
    Windows-1252."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    declared = _codec(part.get_content_charset())
    if declared:
        return payload.decode(declared, errors="replace")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return payload.decode(_head_codec(part, payload) or "cp1252", errors="replace")


def _codec(label: str | None) -> str | None:
    """A charset label's codec: None for no label, an unknown or misspelt one, or one no mail is written in."""
    if not label:
        return None
    try:
        codec = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    return None if codec in NOT_MAIL_CHARSETS else codec


def _head_codec(part: Message, payload: bytes) -> str | None:
    """The codec of the charset an HTML part names in a ``<meta>`` element of its first 1,024 bytes (``<meta
    charset=...>`` or ``<meta http-equiv="Content-Type" content="text/html; charset=...">``), where browsers
    and mail clients look when the transport names none (the HTML standard's prescan); None for any other part.
    UTF-16 and UTF-32 named there are not believed (the standard reads them as UTF-8, and the bytes are not that
    here)."""
    if part.get_content_subtype() != "html":
        return None
    named = _META_CHARSET.search(payload, 0, META_PRESCAN_BYTES)
    if named is None:
        return None
    label = named.group(1).decode("ascii")
    return None if label.lower().startswith(("utf-16", "utf-32", "utf16", "utf32")) else _codec(label)
