import re

import pytest

from serving_common.features import (
    FEATURE_NAMES,
    compose_email_text,
    extract_features,
    normalize_text,
)


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


def test_fast_ascii_paths_equal_the_general_definitions():
    """The character counts take a C-speed path for ASCII and look each distinct character up once otherwise; on
    random texts mixing every ASCII character (controls included) with non-ASCII ones (format, private-use,
    unassigned and surrogate code points, titlecase letters, non-ASCII digits), both paths agree with the
    per-character definitions, so online features never drift from offline ones."""
    import random

    from serving_common.features import _char_classes

    alphabet = [chr(i) for i in range(128)] + list(
        "éÜß£€½２Ａ\u200b\u2028\xa0\u0301\u3000\u2009\x85\u1680\u180e\ue000\u0378\ud800ǅ²٣\u0f73\uff9e"
    )
    rng = random.Random(7)
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        letters = [c for c in text if c.isalpha()]
        expected = (len(letters), sum(c.isupper() for c in letters), sum(c.isdigit() for c in text))
        assert _char_classes(text) == expected, repr(text)


def _reference_features(text: str) -> dict[str, float]:
    """The features by their definitions: every pattern scanned over every text, word by word."""
    from serving_common.features import _EMAIL, _PHONE, _URL, _WORD, SPAM_KEYWORDS

    words = _WORD.findall(text)
    letters = [c for c in text if c.isalpha()]
    digits = sum(c.isdigit() for c in text)
    return {
        "char_count": float(len(text)),
        "word_count": float(len(words)),
        "url_count": float(len(_URL.findall(text))),
        "email_address_count": float(len(_EMAIL.findall(text))),
        "phone_number_count": float(len(_PHONE.findall(text))),
        "uppercase_ratio": sum(c.isupper() for c in letters) / len(letters) if letters else 0.0,
        "exclamation_count": float(text.count("!")),
        "digit_ratio": digits / len(text) if text else 0.0,
        "currency_symbol_count": float(len(re.findall(r"[£$€]", text))),
        "spam_keyword_count": float(sum(1 for w in words if w.lower() in SPAM_KEYWORDS)),
    }


def test_the_pre_filters_and_the_keyword_scan_give_the_features_their_definitions_give():
    """extract_features skips a pattern's scan where an exact pre-filter says it cannot match and counts
    keywords in one regex pass; on random texts built from the pieces that make or nearly make a URL, an
    address, a phone number or a keyword (non-ASCII look-alikes included), it equals the definitions."""
    import random

    pieces = [
        "http://", "https://x", "www.", "WWW.", ".com", ".CoM", ".co.uk", ".info", ".biz", "example", "a-b", "@",
        "jane.doe@example.org", "+44", "0800", "123", "4567", " ", " ", "-", "--", "1 2 3 4 5", "0", "7",
        "FREE", "free", "Win", "winner", "winners", "won't", "txt", "£", "$", "€", "cash£", "'call'", "!", ".",
        "\u212a", "\u0130", "\u017f", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668", "é", "b\u0130z", "\u0131nfo",
        "+", "+a", "a.", "x-", "-x", "..", "_", "@@", "a@b.c", ".comx", ".co", "www", "/", ":",
    ]  # fmt: skip
    rng = random.Random(11)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 24)))
        text = normalize_text(text) if rng.random() < 0.5 else text  # as served, and as any caller may pass it
        assert extract_features(text) == _reference_features(text), repr(text)


@pytest.mark.parametrize(
    "build",
    [
        lambda n: "a." * n + "@",
        lambda n: "+a" * n + "@x",
        lambda n: "x-" * n + ".comx",
        lambda n: ("http://a " + "b-" * n) * 2 + ".com and me@" + "c." * n + "d",
    ],
)
def test_urls_and_addresses_are_counted_in_linear_time(build):
    # Long runs that nearly make an address or a URL: scanned directly, the patterns took 20 to 40 s on each (each
    # try from a boundary inside a run ran to its end). Counted as the patterns count the same text made short.
    from serving_common.features import _EMAIL, _URL

    features = extract_features(build(50_000))
    assert features["email_address_count"] == len(_EMAIL.findall(build(50)))
    assert features["url_count"] == len(_URL.findall(build(50)))
