"""Hand-made features of an email, computed the same way online and offline.

The feature transformer calls :func:`extract_features` on every request (the inference log keeps the
result) and the baseline generator calls it on reference data; the drift detector compares the two
as stored. There is deliberately one implementation: any difference between the two would be
training/serving skew that drift detection would then report as "drift".
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# Order is part of the contract: it is the column order of the inference log and the baselines.
FEATURE_NAMES: tuple[str, ...] = (
    "char_count",
    "word_count",
    "url_count",
    "email_address_count",
    "phone_number_count",
    "uppercase_ratio",
    "exclamation_count",
    "digit_ratio",
    "currency_symbol_count",
    "spam_keyword_count",
)

SPAM_KEYWORDS: frozenset[str] = frozenset(
    {
        "free",
        "win",
        "winner",
        "won",
        "prize",
        "claim",
        "urgent",
        "cash",
        "award",
        "bonus",
        "offer",
        "guaranteed",
        "credit",
        "loan",
        "txt",
        "text",
        "call",
        "reply",
        "stop",
        "subscribe",
        "unsubscribe",
        "ringtone",
        "mobile",
        "voucher",
        "congratulations",
        "selected",
        "click",
        "limited",
        "expires",
        "apply",
    }
)

_VISIBLE_ASCII = re.compile(r"[!-~]")
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|net|org|co\.uk|biz|info)\b", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_PHONE = re.compile(r"(?<!\d)(?:\+?\d[\d -]{7,}\d)(?!\d)")
_WORD = re.compile(r"[A-Za-z0-9£$€']+")
# Exact pre-filters: text a pattern cannot match skips its scan (the scans are most of a request's
# feature cost). Every URL holds "://", "www." or one of these suffixes; every phone number a run of
# nine or more digits, spaces and dashes; every e-mail address an "@".
_URL_HINTS = ("://", "www.", ".com", ".net", ".org", ".co.uk", ".biz", ".info")
_PHONE_RUN = bytes.maketrans(b"0123456789 -", b"000000000000")
_NINE = b"0" * 9


# ASCII's control characters (category Cc) but tab and newline, as spaces: what normalize_text's
# general path does to ASCII text, at C speed. NFKC leaves ASCII unchanged.
_ASCII_CONTROLS = str.maketrans({c: " " for c in [*range(0, 32), 127] if chr(c) not in "\t\n"})
_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ASCII_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_DIGITS = b"0123456789"


def normalize_text(text: str) -> str:
    """Canonical form of an email's text: NFKC, control characters dropped, whitespace collapsed.

    Case is kept: the tokenizer decides about case, and the uppercase ratio needs it. ASCII text
    (most emails) takes a fast path with the same result; it runs on every request at two hops.
    """
    if text.isascii():
        text = text.translate(_ASCII_CONTROLS)
    else:
        text = unicodedata.normalize("NFKC", text)
        # Each distinct character's category looked up once, the text mapped in C.
        text = text.translate(
            {ord(ch): " " for ch in set(text) if unicodedata.category(ch)[0] == "C" and ch not in "\t\n"}
        )
    # str.split() splits at runs of exactly the characters regex \s matches (str.isspace), and drops
    # the ends: the collapse and strip of ``\s+`` -> " ", at a third of its cost on a long e-mail.
    return " ".join(text.split())


def is_blank(text: str) -> bool:
    """Whether ``normalize_text(text)`` is empty, without building it for ASCII text: ASCII text is blank
    exactly when it holds no visible character (controls become spaces, then spaces are stripped)."""
    if text.isascii():
        return _VISIBLE_ASCII.search(text) is None
    return not normalize_text(text)


def compose_email_text(body: str, subject: str | None = None) -> str:
    """The text the model reads: subject (when there is one) then body, normalised."""
    if subject and subject.strip():
        return normalize_text(f"{subject}\n{body}")
    return normalize_text(body)


def extract_features(text: str) -> dict[str, float]:
    """Numeric features of one (normalised) email text, keyed by :data:`FEATURE_NAMES`."""
    chars = len(text)
    letters, uppercase, digits = _char_classes(text)
    ascii_text = text.isascii()
    # Lower-casing ASCII text keeps its words' boundaries, so its words come lower-cased from one scan.
    # The pre-filters are exact for ASCII text (IGNORECASE matches some non-ASCII letters to ASCII ones).
    lowered = text.lower() if ascii_text else ""
    words = _WORD.findall(lowered) if ascii_text else [w.lower() for w in _WORD.findall(text)]
    url = not ascii_text or any(hint in lowered for hint in _URL_HINTS)
    phone = digits >= 2 and (not ascii_text or _NINE in text.encode("ascii").translate(_PHONE_RUN))
    return {
        "char_count": float(chars),
        "word_count": float(len(words)),
        "url_count": float(len(_URL.findall(text))) if url else 0.0,
        "email_address_count": float(len(_EMAIL.findall(text))) if "@" in text else 0.0,
        "phone_number_count": float(len(_PHONE.findall(text))) if phone else 0.0,
        "uppercase_ratio": uppercase / letters if letters else 0.0,
        "exclamation_count": float(text.count("!")),
        "digit_ratio": digits / chars if chars else 0.0,
        "currency_symbol_count": float(text.count("£") + text.count("$") + text.count("€")),
        "spam_keyword_count": float(sum(map(SPAM_KEYWORDS.__contains__, words))),
    }


def _char_classes(text: str) -> tuple[int, int, int]:
    """(letters, uppercase letters, digits) as str.isalpha/isupper/isdigit count them; for ASCII text
    by deleting byte classes in C, else by testing each distinct character once (counted in C)."""
    if text.isascii():
        raw = text.encode("ascii")
        n = len(raw)
        return (
            n - len(raw.translate(None, _ASCII_LETTERS)),
            n - len(raw.translate(None, _ASCII_UPPER)),
            n - len(raw.translate(None, _ASCII_DIGITS)),
        )
    counts = Counter(text)
    letters = {c: n for c, n in counts.items() if c.isalpha()}
    return (
        sum(letters.values()),
        sum(n for c, n in letters.items() if c.isupper()),
        sum(n for c, n in counts.items() if c.isdigit()),
    )
