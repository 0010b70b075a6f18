"""Hand-made features of an email, computed the same way online and offline.

The feature transformer calls :func:`extract_features` on every request and the baseline generator
and drift detector call it on reference data. There is deliberately one implementation: any
difference between the two would be training/serving skew that drift detection would then report
as "drift".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

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

_WHITESPACE = re.compile(r"\s+")
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|net|org|co\.uk|biz|info)\b", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_PHONE = re.compile(r"(?<!\d)(?:\+?\d[\d -]{7,}\d)(?!\d)")
_WORD = re.compile(r"[A-Za-z0-9£$€']+")
_CURRENCY = re.compile(r"[£$€]")


def normalize_text(text: str) -> str:
    """Canonical form of an email's text: NFKC, control characters dropped, whitespace collapsed.

    Case is kept: the tokenizer decides about case, and the uppercase ratio needs it.
    """
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\t\n" else " " for ch in text)
    return _WHITESPACE.sub(" ", text).strip()


def compose_email_text(body: str, subject: str | None = None) -> str:
    """The text the model reads: subject (when there is one) then body, normalised."""
    if subject and subject.strip():
        return normalize_text(f"{subject}\n{body}")
    return normalize_text(body)


def extract_features(text: str) -> dict[str, float]:
    """Numeric features of one (normalised) email text, keyed by :data:`FEATURE_NAMES`."""
    chars = len(text)
    words = _WORD.findall(text)
    letters = [c for c in text if c.isalpha()]
    uppercase = sum(1 for c in letters if c.isupper())
    digits = sum(1 for c in text if c.isdigit())
    return {
        "char_count": float(chars),
        "word_count": float(len(words)),
        "url_count": float(len(_URL.findall(text))),
        "email_address_count": float(len(_EMAIL.findall(text))),
        "phone_number_count": float(len(_PHONE.findall(text))),
        "uppercase_ratio": uppercase / len(letters) if letters else 0.0,
        "exclamation_count": float(text.count("!")),
        "digit_ratio": digits / chars if chars else 0.0,
        "currency_symbol_count": float(len(_CURRENCY.findall(text))),
        "spam_keyword_count": float(sum(1 for w in words if w.lower() in SPAM_KEYWORDS)),
    }


def extract_feature_matrix(texts: Iterable[str]) -> list[list[float]]:
    """Rows of features in :data:`FEATURE_NAMES` order, for batch (offline) use."""
    rows = []
    for text in texts:
        features = extract_features(text)
        rows.append([features[name] for name in FEATURE_NAMES])
    return rows
