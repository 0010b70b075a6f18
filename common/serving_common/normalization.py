"""The text the platform reads: every text, online and offline, passes through :func:`normalize_text` before
anything looks at it (features, tokens, the n-gram model, deduplication in training), and the gateway refuses a
text that normalises to nothing (:func:`is_blank`).

Normalising is NFKC, control characters dropped and whitespace collapsed, with bounds on what a hostile text can
make it cost; ASCII text, most e-mail, takes a C-speed path with the same result.
"""

from __future__ import annotations

import re
import unicodedata

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


def _combining_only_table() -> np.ndarray:
    """Whether each code point (to the last that can be one) decomposes, NFKD, into combining marks alone: a run
    of them is one run of marks to sort. Built at import (0.1 s), not on a service's first request."""
    marks = [
        c
        for c in range(0x110000)
        if (unicodedata.combining(chr(c)) or unicodedata.decomposition(chr(c)))
        and all(unicodedata.combining(d) for d in unicodedata.normalize("NFKD", chr(c)))
    ]
    table = np.zeros(max(marks) + 2, dtype=bool)
    table[marks] = True
    return table


_COMBINING_ONLY = _combining_only_table()


def _cap_combining_runs(text: str) -> str:
    """``text`` with each run of more than :data:`MAX_COMBINING_RUN` combining-only characters cut to that many."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    marks = _COMBINING_ONLY[np.minimum(points, len(_COMBINING_ONLY) - 1)]
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


def normalize_text(text: str) -> str:
    """Canonical form of an email's text: NFKC, control characters dropped, whitespace collapsed.

    Case is kept: the tokenizer decides about case, and the uppercase ratio needs it. ASCII text
    (most emails) takes a fast path with the same result; it runs on every request at two hops.
    A run of combining marks longer than :data:`MAX_COMBINING_RUN` is cut to that length first.
    """
    if text.isascii():
        text = text.translate(_ASCII_CONTROLS)
    else:
        text = unicodedata.normalize("NFKC", _cap_combining_runs(text))
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
