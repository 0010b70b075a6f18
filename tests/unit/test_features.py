from serving_common.features import (
    FEATURE_NAMES,
    compose_email_text,
    extract_feature_matrix,
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


def test_matrix_rows_follow_feature_name_order():
    rows = extract_feature_matrix(["Hi!", "hello there"])
    assert len(rows) == 2 and len(rows[0]) == len(FEATURE_NAMES)
    assert rows[0][FEATURE_NAMES.index("exclamation_count")] == 1
    assert rows[1][FEATURE_NAMES.index("word_count")] == 2
