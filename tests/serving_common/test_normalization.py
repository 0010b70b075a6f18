import random
import re
import unicodedata

import numpy as np

from serving_common import normalization
from serving_common.normalization import MAX_COMBINING_RUN, NFKC_GROWTH_ALLOWANCE, is_blank, normalize_text


def test_normalize_collapses_whitespace_and_drops_control_characters():
    assert normalize_text("  Hello\u0000\t\n  WORLD\u200b ") == "Hello WORLD"


def test_normalize_applies_nfkc():
    assert normalize_text("\uff46\uff52\uff45\uff45") == "free"


def _reference_normalize(text: str) -> str:
    kept, run = [], 0
    for ch in text:  # a run of characters that decompose into combining marks alone is cut to MAX_COMBINING_RUN
        decomposed = unicodedata.normalize("NFKD", ch)
        run = run + 1 if decomposed and all(unicodedata.combining(d) for d in decomposed) else 0
        if run <= MAX_COMBINING_RUN:
            kept.append(ch)
    text = unicodedata.normalize("NFKC", "".join(kept))[: 2 * len(text) + NFKC_GROWTH_ALLOWANCE]
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\t\n" else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def test_fast_ascii_paths_equal_the_general_definitions():
    """normalize_text takes a C-speed path for ASCII and looks each distinct character's category up once
    otherwise; on random texts mixing every ASCII character (controls included) with non-ASCII ones (format,
    private-use, unassigned and surrogate code points, titlecase letters, non-ASCII digits), both paths agree with
    the per-character definition, so online features never drift from offline ones."""
    alphabet = [chr(i) for i in range(128)] + list(
        "éÜß£€½２Ａ\u200b\u2028\xa0\u0301\u3000\u2009\x85\u1680\u180e\ue000\u0378\ud800ǅ²٣\u0f73\uff9e"
    )
    rng = random.Random(7)
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        assert normalize_text(text) == _reference_normalize(text), repr(text)


def test_runs_of_combining_marks_are_cut_to_the_stream_safe_limit():
    """NFKC sorts a run of combining marks in quadratic time: 100,000 characters of two marks alternating took 15 s
    (U+0F73, which decomposes into two marks, 26 s), on the gateway's event loop and again at the transformer. A run
    longer than MAX_COMBINING_RUN is cut to it, as the per-character definition says, and nothing else changes."""
    assert normalize_text("a" + "\u0301\u0316" * 50_000) == unicodedata.normalize("NFKC", "a" + "\u0301\u0316" * 15)
    assert len(normalize_text("\u0f40" + "\u0f73" * 100_000 + " tail")) == 1 + 2 * MAX_COMBINING_RUN + 5
    assert is_blank("\u0301" * 100_000) is False
    marks = ["\u0301", "\u0316", "\u0344", "\u0f73", "\uff9e", "\u3099", "\U0001e944", "\u200d", "a", "é", " ", "\x00"]
    rng = random.Random(3)
    for _ in range(500):
        text = "".join(
            rng.choice(marks) if rng.random() < 0.9 else rng.choice("ab ") for _ in range(rng.randint(0, 120))
        )
        assert normalize_text(text) == _reference_normalize(text), repr(text)


def test_what_nfkc_makes_past_twice_a_text_is_dropped():
    """NFKC makes up to 18 characters of one (U+FDFA): 100,000 of them became 1.8 million characters for every step
    after it, 0.4 s per text at the transformer and a 504 for a 9.9 MB batch. What it makes past twice the text's
    length plus NFKC_GROWTH_ALLOWANCE is dropped, and the rest of the text is not normalised at all."""
    text = "Buy now \ufdfa" + "\u3300\ufdfa" * 50_000
    limit = 2 * len(text) + NFKC_GROWTH_ALLOWANCE
    assert normalize_text(text) == _reference_normalize(text)
    assert len(unicodedata.normalize("NFKC", text)) > 5 * limit
    assert normalize_text(text).startswith("Buy now \u0635\u0644\u0649 \u0627\u0644\u0644\u0647")
    assert len(normalize_text(text)) <= limit
    assert is_blank("\u3000" * 5000 + "\ufdfa" * 5000) is False  # the blanks before the cut are at most the text


def test_nfkc_is_taken_a_piece_at_a_time_only_at_boundaries(monkeypatch):
    """Past the limit's reach a text is normalised a piece at a time, each piece ending before a character that
    composes with nothing before it: the pieces' NFKC is the whole's, whatever the pieces (a few characters each
    here, to cut everywhere a boundary allows), on random texts of what composes (Hangul jamo and syllables,
    compatibility jamo, letters and accents, Indic vowel signs, half-width kana and voicing marks, ligatures)."""
    monkeypatch.setattr(normalization, "_NFKC_PIECE", 3)
    alphabet = list(
        "ae\u0301\u0316\u0308\u1100\u1161\u11a8\uac00\uac01\u3131\u314f\uffa1\uffc2\u0bc6\u0bbe\u0b47"
        "\u0b3e\u0b57\uff76\uff9e\u30ab\u3099\ufdfa\u3300\ufb03\u00a8 \u0344\u0f73\u1100\u1175"
    )
    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        points = normalization._code_points(text)
        limit = rng.randint(1, 4 * len(text))
        assert normalization._nfkc_prefix(text, points, limit) == unicodedata.normalize("NFKC", text)[:limit], (
            repr(text),
            limit,
        )


def test_a_boundary_composes_with_nothing_before_it():
    """Each character the tables call a boundary (those NFKD changes, and every first half of a composition): after
    each first half of a composition and each combining mark, NFKC of the two is NFKC of each."""
    tables = normalization._TABLES
    firsts, boundaries = set(), []
    for c in range(len(tables.boundary_before)):
        parts = unicodedata.decomposition(chr(c)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            firsts.add(chr(int(parts[0], 16)))
        if tables.boundary_before[c] and (parts or 0xAC00 <= c <= 0xD7A3):
            boundaries.append(chr(c))
    before = [*sorted(firsts), "\u1100", "\uac00", "\u0301", "\u0f73"]
    boundaries += [f for f in sorted(firsts) if tables.boundary_before[ord(f)]]
    rng = random.Random(11)
    for b in rng.sample(boundaries, 1500):
        for a in before:
            assert unicodedata.normalize("NFKC", a + b) == unicodedata.normalize("NFKC", a) + unicodedata.normalize(
                "NFKC", b
            ), (a, b)
    assert not tables.boundary_before[[0x1161, 0x11A8, 0x314F, 0x0BBE, 0x3099, 0x0301]].any()
    assert tables.nfkd_length[0xFDFA] == 18 and tables.nfkd_length[0xAC01] == 3
    assert np.all(tables.nfkd_length[-1:] == 1) and tables.boundary_before[-1]


def test_blank_is_what_normalises_to_nothing():
    alphabet = [chr(i) for i in range(128)] + list("\u200b\u2028\xa0\u3000é\u0301")
    rng = random.Random(3)
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        assert is_blank(text) == (not normalize_text(text)), repr(text)
    # Other text is read a piece at a time: long texts of mostly unseen characters (spaces, format, private-use,
    # unassigned, surrogate, Hangul fillers, tags) with a few seen ones (an expanding ligature, a mark, a letter).
    unseen = list(" \t\x00\x85\u200b\u2028\xa0\u3000\ue000\u0378\ud800\U000e0001\U000f0000")
    seen = list("\ufdfa\u0301\u115f\u3164\uffa0a")
    for _ in range(2000):
        text = "".join(rng.choice(seen if rng.random() < 0.002 else unseen) for _ in range(rng.randint(0, 1200)))
        assert is_blank(text) == (not normalize_text(text)), repr(text)
    assert is_blank(" \t\x00\x7f\u200b ") and not is_blank(" ~ ") and not is_blank("é")
