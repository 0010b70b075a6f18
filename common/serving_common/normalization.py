"""The text the platform reads: every text, online and offline, passes through :func:`normalize_text` before
anything looks at it (features, tokens, the n-gram model, deduplication in training), and the gateway refuses a
text that normalises to nothing (:func:`is_blank`).

Normalising is NFKC, control characters dropped and whitespace collapsed, with bounds on what a hostile text can
make it cost; ASCII text, most e-mail, takes a C-speed path with the same result.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

import numpy as np

_VISIBLE_ASCII = re.compile(r"[!-~]")
# ASCII's control characters (category Cc) but tab and newline, as spaces: what normalize_text's
# general path does to ASCII text, at C speed. NFKC leaves ASCII unchanged.
_ASCII_CONTROLS = str.maketrans({c: " " for c in [*range(0, 32), 127] if chr(c) not in "\t\n"})

# The longest run of combining marks kept (Unicode's stream-safe limit, UAX #15): NFKC sorts a run by combining
# class in time quadratic in its length, in C that holds the GIL. 100,000 characters of two marks alternating took
# 15 s at each hop (the gateway's blank check ran it on the event loop), of U+0F73 (which decomposes into two) 26 s.
# No text of the corpora has a run of more than a few.
MAX_COMBINING_RUN = 30

# What NFKC makes of a text is kept to twice the text's length plus this many characters; the rest is dropped.
# NFKC turns one character into as many as 18 (U+FDFA): 100,000 of them became 1.8 million characters that every
# step after it reads, 0.4 s per text at the transformer, and a 9.9 MB batch of 33 a 504 after 10 s (an ASCII batch
# of 10 MiB takes 1.7 s). No text of the corpora grows by more than 4 characters.
NFKC_GROWTH_ALLOWANCE = 1024
# A long text that would grow past the limit is normalised this many characters at a time (from a boundary, see
# _unicode_tables), and no further than the limit.
_NFKC_PIECE = 4096


class _UnicodeTables(NamedTuple):
    """Per code point, to the last that is not like U+0000 in all three (later ones are read as that last one)."""

    combining_only: np.ndarray  # bool: NFKD makes combining marks alone of it (a run of them is one run to sort)
    nfkd_length: np.ndarray  # uint8: how many characters NFKD makes of it (NFKC makes at most as many of a text)
    boundary_before: np.ndarray  # bool: NFKC(a + b) == NFKC(a) + NFKC(b) for every a and every b starting with it


def _unicode_tables() -> _UnicodeTables:
    """Built at import (0.15 s), not on a service's first request.

    A character is a boundary when what NFKD makes of it starts with a character of combining class 0 (nothing
    before it is reordered past it) that composes with nothing before it: that is no character that is the second
    of a canonical decomposition into two (what composition puts back together), nor a Hangul medial vowel or final
    consonant (composed by rule)."""
    decomposing = [c for c in range(0x110000) if unicodedata.combining(chr(c)) or unicodedata.decomposition(chr(c))]
    seconds = set(range(0x1160, 0x1200))
    for c in decomposing:
        parts = unicodedata.decomposition(chr(c)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            seconds.add(int(parts[1], 16))
    special = sorted({*decomposing, *seconds, *range(0xAC00, 0xD7A4)})  # Hangul syllables decompose by rule
    size = special[-1] + 2
    tables = _UnicodeTables(np.zeros(size, bool), np.ones(size, np.uint8), np.ones(size, bool))
    for c in special:
        decomposed = unicodedata.normalize("NFKD", chr(c))
        first = decomposed[0]
        tables.combining_only[c] = all(unicodedata.combining(d) for d in decomposed)
        tables.nfkd_length[c] = len(decomposed)
        tables.boundary_before[c] = not unicodedata.combining(first) and ord(first) not in seconds
    return tables


_TABLES = _unicode_tables()


def _code_points(text: str) -> np.ndarray:
    """Each character's index into the tables (every code point past them reads as their last, ordinary, one)."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return np.minimum(points, len(_TABLES.nfkd_length) - 1)


def _cap_combining_runs(text: str, points: np.ndarray) -> str:
    """``text`` with each run of more than :data:`MAX_COMBINING_RUN` combining-only characters cut to that many."""
    marks = _TABLES.combining_only[points]
    if not marks.any():
        return text
    edges = np.flatnonzero(np.diff(marks, prepend=False, append=False))  # run starts and ends, alternately
    starts, ends = edges[0::2], edges[1::2]
    long = ends - starts > MAX_COMBINING_RUN
    if not long.any():
        return text
    parts, position = [], 0
    for start, end in zip(starts[long].tolist(), ends[long].tolist(), strict=True):
        parts.append(text[position : start + MAX_COMBINING_RUN])
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _nfkc_prefix(text: str, points: np.ndarray, limit: int) -> str:
    """``unicodedata.normalize("NFKC", text)[:limit]``, normalising no more of ``text`` than that takes: whole when
    it cannot make more than ``limit`` characters, else a piece at a time, each ending before a boundary."""
    if int(_TABLES.nfkd_length[points].sum()) <= limit:
        return unicodedata.normalize("NFKC", text)
    boundaries = np.flatnonzero(_TABLES.boundary_before[points])
    parts, made, start = [], 0, 0
    while start < len(text) and made < limit:
        after = int(np.searchsorted(boundaries, start + _NFKC_PIECE))
        end = int(boundaries[after]) if after < len(boundaries) else len(text)
        parts.append(unicodedata.normalize("NFKC", text[start:end]))
        made, start = made + len(parts[-1]), end
    return "".join(parts)[:limit]


def normalize_text(text: str) -> str:
    """Canonical form of an email's text: NFKC, control characters dropped, whitespace collapsed.

    Case is kept: the tokenizer decides about case, and the uppercase ratio needs it. ASCII text
    (most emails) takes a fast path with the same result; it runs on every request at two hops.
    A run of combining marks longer than :data:`MAX_COMBINING_RUN` is cut to that length first, and what NFKC makes
    past twice the text's length plus :data:`NFKC_GROWTH_ALLOWANCE` characters is dropped.
    """
    if text.isascii():
        text = text.translate(_ASCII_CONTROLS)
    else:
        limit = 2 * len(text) + NFKC_GROWTH_ALLOWANCE
        points = _code_points(text)
        capped = _cap_combining_runs(text, points)
        if capped is not text:
            points = _code_points(capped)
        text = _nfkc_prefix(capped, points, limit)
        # Each distinct character's category looked up once, the text mapped in C (and not at all without a control
        # or format character: mapping through a dict costs ten times the NFKC of a text).
        controls = {ord(ch): " " for ch in set(text) if unicodedata.category(ch)[0] == "C" and ch not in "\t\n"}
        if controls:
            text = text.translate(controls)
    # str.split() splits at runs of exactly the characters regex \s matches (str.isspace), and drops
    # the ends: the collapse and strip of ``\s+`` -> " ", at a third of its cost on a long e-mail.
    return " ".join(text.split())


# is_blank reads other text this many characters at a time (see there).
_BLANK_CHUNK = 256


def is_blank(text: str) -> bool:
    """Whether ``normalize_text(text)`` is empty, without building it: ASCII text is blank exactly when it holds no
    visible character (controls become spaces, then spaces are stripped). Other text is blank exactly when each of
    its pieces is, since whether a character is seen does not depend on its neighbours (composing never joins
    whitespace or controls into a visible character), so it stops at its first piece with a visible character:
    normalised whole, 100,000 characters that NFKC expands eighteenfold (U+FDFA) took 0.5 s on the gateway's event
    loop, now 1 ms."""
    if text.isascii():
        return _VISIBLE_ASCII.search(text) is None
    return not any(normalize_text(text[i : i + _BLANK_CHUNK]) for i in range(0, len(text), _BLANK_CHUNK))
