import re

from serving_common.features import (
    FEATURE_NAMES,
    compose_email_text,
    extract_features,
    normalize_text,
)


def test_normalize_collapses_whitespace_and_drops_control_characters():
    assert normalize_text("  Hello\u0000\t\n  WORLD\u200b ") == "Hello WORLD"


def test_normalize_applies_nfkc():
    assert normalize_text("\uff46\uff52\uff45\uff45") == "free"


def test_compose_puts_subject_first():
    assert compose_email_text("body text", "Subject") == "Subject body text"
    assert compose_email_text("body text", "  ") == "body text"


def test_features_of_a_typical_spam_message():
    f = extract_features("WINNER!! Claim your FREE prize now at www.win.com or call 09061701461, £1000 cash")
    assert set(f) == set(FEATURE_NAMES)
    assert f["exclamation_count"] == 2
    assert f["url_count"] == 1
    assert f["phone_number_count"] == 1
    assert f["currency_symbol_count"] == 1
    assert f["spam_keyword_count"] >= 4  # winner, claim, free, prize, call, cash
    assert 0.2 < f["uppercase_ratio"] < 0.5
    assert f["digit_ratio"] > 0.1


def test_features_of_empty_text_are_zero_not_errors():
    f = extract_features("")
    assert f["char_count"] == 0 and f["uppercase_ratio"] == 0 and f["digit_ratio"] == 0


def _reference_normalize(text: str) -> str:
    import unicodedata

    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\t\n" else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def test_fast_ascii_paths_equal_the_general_definitions():
    """normalize_text and the character counts take a C-speed path for ASCII; on random texts mixing
    every ASCII character (controls included) with non-ASCII ones, both paths agree with the
    per-character definitions, so online features never drift from offline ones."""
    import random

    from serving_common.features import _char_classes

    alphabet = [chr(i) for i in range(128)] + list("éÜß£€½２Ａ\u200b\u2028\xa0\u0301")
    rng = random.Random(7)
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        assert normalize_text(text) == _reference_normalize(text), repr(text)
        letters = [c for c in text if c.isalpha()]
        expected = (len(letters), sum(c.isupper() for c in letters), sum(c.isdigit() for c in text))
        assert _char_classes(text) == expected, repr(text)
