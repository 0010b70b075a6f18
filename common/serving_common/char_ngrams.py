"""The character n-gram model a spam model's verdict can blend with its encoder's (``ngram_weight``).

Character 2-5-grams within word boundaries of a text's first ``MAX_CHARS`` characters, lower-cased,
TF-IDF weighted (sublinear term frequency, L2-normalised) and scored by a linear model. Training fits it
with scikit-learn's ``TfidfVectorizer`` and ``LogisticRegression`` over :func:`analyze`; serving scores it
here with numpy alone (no scikit-learn in the transformer's image), finding a text's n-grams by the same
windows (:func:`_starts`) and looking them up as integer keys, about 1 ms for an e-mail of 2,800 characters
on one core; tests check both against scikit-learn. It reads what the encoder misses: an e-mail's middle (the
encoder reads its first 94 and last 32 tokens) and spellings (docs/models.md, "The n-gram model beside the
encoder, adopted").
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# An SMS is all of it; an e-mail's subject and the start of its body, some 1,000 tokens, eight times what the
# encoder reads. The whole of a long e-mail multiplied the fitting time for no gain measured.
MAX_CHARS = 4000
NGRAM_RANGE = (2, 5)
_SPACE = 32
# An n-gram's key packs its characters' places in the model's alphabet into 64 bits: five of at most 12 bits.
_MAX_ALPHABET = (1 << 12) - 1


def _padded(text: str) -> str:
    """The lower-cased head's words, each between single spaces (scikit-learn pads each word with one)."""
    words = text[:MAX_CHARS].lower().split()
    return f" {' '.join(words)} " if words else ""


def _code_points(padded: str) -> np.ndarray:
    return np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32)


def _starts(is_space: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """For each n, where the n-grams of a padded text start: its windows with no space inside them (a space
    may open or close one). These are exactly scikit-learn's ``char_wb`` n-grams of each padded word, a word
    no longer than n giving itself once and no longer n-grams, since a window that reaches past a word holds
    the space between two words inside it."""
    spaces = np.concatenate(([0], np.cumsum(is_space)))
    found = []
    for n in range(NGRAM_RANGE[0], NGRAM_RANGE[1] + 1):
        if len(is_space) < n:
            break
        starts = np.arange(len(is_space) - n + 1)
        found.append((n, starts[spaces[starts + n - 1] == spaces[starts + 1]]))
    return found


def analyze(text: str) -> list[str]:
    """The n-grams of ``text``, what training fits the model on (``TfidfVectorizer(analyzer=analyze)``):
    scikit-learn's ``char_wb`` 2-5-grams of its lower-cased first ``MAX_CHARS`` characters, in its order (word
    by word, shorter first), so that the fitted TF-IDF sums alike to the last bit."""
    padded = _padded(text)
    is_space = _code_points(padded) == _SPACE
    found = _starts(is_space)
    if not found:
        return []
    words = np.concatenate(([0], np.cumsum(is_space)))  # a window starting at s belongs to word words[s + 1]
    starts = np.concatenate([starts for _, starts in found])
    lengths = np.concatenate([np.full(len(starts), n) for n, starts in found])
    order = np.lexsort((starts, lengths, words[starts + 1]))
    return [padded[s : s + n] for s, n in zip(starts[order].tolist(), lengths[order].tolist(), strict=True)]


def blended_log_odds(encoder: np.ndarray, ngrams: np.ndarray, weight: float) -> np.ndarray:
    """A verdict's log-odds: ``weight`` of the n-gram model's, the rest the encoder's."""
    return (1.0 - weight) * np.asarray(encoder, dtype=np.float64) + weight * np.asarray(ngrams, dtype=np.float64)


def blended_logits(logits: np.ndarray, positive: int, ngrams: np.ndarray, weight: float) -> np.ndarray:
    """A two-label model's logits with the n-gram model blended in: the positive label's log-odds become
    :func:`blended_log_odds` of the encoder's and the n-gram model's (the softmax is the sigmoid of that)."""
    encoder = logits[:, positive] - logits[:, 1 - positive]
    blended = np.zeros((len(logits), 2), dtype=np.float64)
    blended[:, positive] = blended_log_odds(encoder, ngrams, weight)
    return blended


def _pack(places: Sequence[np.ndarray], bits: int) -> np.ndarray:
    """Integer keys of n-grams from their characters' places in the alphabet, one array per position (0 past
    an n-gram's end): ``bits`` bits a character, the first character lowest."""
    key = np.zeros(len(places[0]), dtype=np.uint64)
    for k, place in enumerate(places):
        key |= place << np.uint64(bits * k)
    return key


@dataclass(frozen=True)
class CharNgramModel:
    """A fitted linear model over TF-IDF character n-grams: its vocabulary, inverse document frequencies,
    coefficients and intercept. ``logits`` gives the decision function (log-odds of the positive class)."""

    ngrams: tuple[str, ...]
    idf: np.ndarray
    coef: np.ndarray
    intercept: float

    def __post_init__(self) -> None:
        if not len(self.ngrams) == len(self.idf) == len(self.coef):
            raise ValueError(f"{len(self.ngrams)} n-grams, {len(self.idf)} idf values, {len(self.coef)} coefficients")
        # A longer n-gram would be cut to its first characters below and score as another; a repeated one would
        # find one of its columns only; a value that is not finite would make every verdict NaN.
        too_long = [g for g in self.ngrams if not 0 < len(g) <= NGRAM_RANGE[1]]
        if too_long:
            raise ValueError(f"n-grams of 1 to {NGRAM_RANGE[1]} characters are served, not {too_long[0]!r}")
        if len(set(self.ngrams)) != len(self.ngrams):
            repeated = next(g for g, c in Counter(self.ngrams).items() if c > 1)
            raise ValueError(f"the n-gram {repeated!r} is listed more than once")
        if not (np.isfinite(self.idf).all() and np.isfinite(self.coef).all() and np.isfinite(self.intercept)):
            raise ValueError("idf values, coefficients and intercept must be finite numbers")
        alphabet = sorted(set("".join(self.ngrams)))
        if len(alphabet) > _MAX_ALPHABET:
            raise ValueError(f"{len(alphabet)} distinct characters in the n-grams; at most {_MAX_ALPHABET} are served")
        # Each character's place in the alphabet (0: not in it, so no n-gram holding it is known), by code point.
        places = np.zeros(max((ord(c) for c in alphabet), default=0) + 2, dtype=np.uint64)
        places[[ord(c) for c in alphabet]] = np.arange(1, len(alphabet) + 1, dtype=np.uint64)
        bits = max(len(alphabet).bit_length(), 1)
        width = NGRAM_RANGE[1]
        fixed = np.array(self.ngrams, dtype=f"<U{width}")
        codes = fixed.view(np.uint32).reshape(len(self.ngrams), width)
        inside = np.arange(width) < np.char.str_len(fixed)[:, None]
        place = np.where(inside, places[np.minimum(codes, len(places) - 1)], np.uint64(0))
        keys = _pack([place[:, k] for k in range(width)], bits)
        order = np.argsort(keys, kind="stable")
        object.__setattr__(self, "_lookup", (places, bits, keys[order], order))

    def columns(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The model's columns of the n-grams ``text`` holds that it knows, and how often each occurs."""
        places, bits, sorted_keys, order = self.__dict__["_lookup"]
        codes = _code_points(_padded(text))
        place = places[np.minimum(codes, len(places) - 1)]  # past the last known code point: 0, unknown
        unknown = np.concatenate(([0], np.cumsum(place == 0)))
        keys = []
        for n, starts in _starts(codes == _SPACE):
            starts = starts[unknown[starts + n] == unknown[starts]]
            keys.append(_pack([place[starts + k] for k in range(n)], bits))
        if not keys or not len(sorted_keys):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        every = np.concatenate(keys)
        at = np.minimum(np.searchsorted(sorted_keys, every), len(sorted_keys) - 1)
        known = sorted_keys[at] == every
        columns, counts = np.unique(order[at[known]], return_counts=True)
        return columns, counts

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        out = np.full(len(texts), self.intercept, dtype=np.float64)
        for row, text in enumerate(texts):
            columns, counts = self.columns(text)
            if len(columns):
                weights = (1.0 + np.log(counts)) * self.idf[columns]
                out[row] += float(weights @ self.coef[columns]) / float(np.sqrt(weights @ weights))
        return out

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            ngrams=np.array(self.ngrams, dtype=np.str_),
            idf=self.idf.astype(np.float64),
            coef=self.coef.astype(np.float64),
            intercept=np.array([self.intercept], dtype=np.float64),
        )
        return buffer.getvalue()

    @classmethod
    def load(cls, path: str | Path) -> CharNgramModel:
        """ValueError when the file is not such a model (``np.load`` never unpickles here)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(tuple(data["ngrams"].tolist()), data["idf"], data["coef"], float(data["intercept"][0]))
        except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not a character n-gram model ({exc})") from None
