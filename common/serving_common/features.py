"""Hand-made features of an email, computed the same way online and offline.

The feature transformer calls :func:`extract_features` on every request (the inference log keeps the
result) and the baseline generator calls it on reference data; the drift detector compares the two
as stored. There is deliberately one implementation: any difference between the two would be
training/serving skew that drift detection would then report as "drift".
"""

from __future__ import annotations

import re
from collections import Counter

from serving_common.normalization import normalize_text

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


# The URL and address counts are the number of matches the patterns above find (their definitions), counted in
# linear time. Scanned directly, each pattern tries again from every word boundary inside a long run of the
# characters a match starts with, and each try runs to the end of the run: 40 KB of "a." and an "@" took 3.7 s,
# of "x-" and ".comx" 6.6 s, on every request at the transformer. A match's start inside a run changes nothing
# but where it begins (the rest of the run must follow it), so here each run is tried once, from its first word
# boundary at or after where the last match ended.
_BOUNDARY = re.compile(r"\b")
_ADDRESS_LOCAL_RUN = re.compile(r"[\w.+-]*")  # matched on the reversed text: the run before an "@"
_ADDRESS_DOMAIN = re.compile(r"[\w-]+\.[\w.-]+\b")
_URL_PREFIXED = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_URL_SUFFIX = re.compile(r"\.(?:com|net|org|co\.uk|biz|info)\b", re.IGNORECASE)
_URL_NAME_RUN = re.compile(r"[a-z0-9-]*", re.IGNORECASE)  # matched on the reversed text: the name before a suffix

_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ASCII_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_DIGITS = b"0123456789"


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
    address = "@" in text
    reversed_text = text[::-1] if url or address else ""  # where the counts find the run before a match's end
    phone = digits >= 2 and (not ascii_text or _NINE in text.encode("ascii").translate(_PHONE_RUN))
    return {
        "char_count": float(chars),
        "word_count": float(len(words)),
        "url_count": float(_count_urls(text, reversed_text)) if url else 0.0,
        "email_address_count": float(_count_addresses(text, reversed_text)) if address else 0.0,
        "phone_number_count": float(len(_PHONE.findall(text))) if phone else 0.0,
        "uppercase_ratio": uppercase / letters if letters else 0.0,
        "exclamation_count": float(text.count("!")),
        "digit_ratio": digits / chars if chars else 0.0,
        "currency_symbol_count": float(text.count("£") + text.count("$") + text.count("€")),
        "spam_keyword_count": float(sum(map(SPAM_KEYWORDS.__contains__, words))),
    }


def _first_boundary(text: str, start: int, end: int) -> int:
    """The first word boundary at ``start`` or after and before ``end`` (-1: none)."""
    found = _BOUNDARY.search(text, start, end)
    return found.start() if found is not None and found.start() < end else -1


def _run_before(pattern: re.Pattern[str], reversed_text: str, end: int) -> int:
    """Where the run of ``pattern``'s characters that ends before ``end`` starts."""
    n = len(reversed_text)
    run = pattern.match(reversed_text, n - end)  # a starred class: it always matches, if only the empty string
    return end - (run.end() - (n - end)) if run is not None else end


def _count_addresses(text: str, reversed_text: str) -> int:
    """``len(_EMAIL.findall(text))``: an address's local part is its "@"'s whole run of ``[\\w.+-]`` from a
    word boundary on, so each "@" is tried once."""
    count, position = 0, 0
    at = text.find("@")
    while at >= 0:
        start = _first_boundary(text, max(position, _run_before(_ADDRESS_LOCAL_RUN, reversed_text, at)), at)
        domain = _ADDRESS_DOMAIN.match(text, at + 1) if start >= 0 else None
        if domain is not None:
            count, position = count + 1, domain.end()
        at = text.find("@", max(at + 1, position))
    return count


def _count_urls(text: str, reversed_text: str) -> int:
    """``len(_URL.findall(text))``: the leftmost of the next URL with a prefix and the next bare name before a
    suffix (from its run's first word boundary), the prefixed one where both start at one place, as the pattern's
    alternation tries them."""
    count, position = 0, 0
    prefixed = _URL_PREFIXED.search(text)
    bare = _next_bare_url(text, reversed_text, 0)
    while True:
        # (start, 0 for the prefixed one so that it wins a tie, end)
        candidates = [(prefixed.start(), 0, prefixed.end())] if prefixed is not None else []
        candidates += [(bare[0], 1, bare[1])] if bare is not None else []
        if not candidates:
            return count
        count, position = count + 1, min(candidates)[2]
        if prefixed is not None and prefixed.start() < position:
            prefixed = _URL_PREFIXED.search(text, position)
        if bare is not None and bare[0] < position:
            bare = _next_bare_url(text, reversed_text, position)


def _next_bare_url(text: str, reversed_text: str, position: int) -> tuple[int, int] | None:
    """(start, end) of the leftmost bare name and suffix (``\\b[a-z0-9-]+\\.com\\b``, ...) starting at
    ``position`` or after."""
    suffix = _URL_SUFFIX.search(text, position)
    while suffix is not None:
        dot = suffix.start()
        run_start = _run_before(_URL_NAME_RUN, reversed_text, dot)
        start = _first_boundary(text, max(position, run_start), dot) if run_start < dot else -1
        if start >= 0:
            return start, suffix.end()
        suffix = _URL_SUFFIX.search(text, dot + 1)
    return None


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
