import random
import re
import unicodedata

from serving_common.normalization import MAX_COMBINING_RUN, is_blank, normalize_text


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
    text = unicodedata.normalize("NFKC", "".join(kept))
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
