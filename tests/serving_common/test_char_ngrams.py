"""The character n-gram model as serving scores it, against scikit-learn's definition of the same features."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from serving_common.char_ngrams import MAX_CHARS, CharNgramModel, analyze, blended_log_odds

TEXTS = [
    "WINNER!! Call 09061701461 now",
    "a  b\tc\n\nword",
    "a ab abc abcd abcde abcdef",
    "Grüße aus Köln, İstanbul'dan selam",
    "x" * 10 + " " + "spam " * (MAX_CHARS // 4),
    "",
]


REFERENCE = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), preprocessor=lambda t: t[:MAX_CHARS].lower())


@pytest.mark.parametrize("text", TEXTS)
def test_the_ngrams_are_scikit_learns_char_wb_of_the_lower_cased_head(text):
    assert analyze(text) == REFERENCE.build_analyzer()(text)  # in its order too: the TF-IDF sums alike


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab c\t\n\u00e9\u0130\u00df\U0001f600.!"), max_size=60))
def test_any_text_gives_scikit_learns_ngrams_and_the_model_finds_each_it_knows(text):
    assert analyze(text) == REFERENCE.build_analyzer()(text)
    vocabulary = ("ab", " a", "b ", "c!", " \u00e9", "\U0001f600", "ss ", " abc ", "\u0069\u0307")
    model = CharNgramModel(vocabulary, np.ones(len(vocabulary)), np.zeros(len(vocabulary)), 0.0)
    expected = {vocabulary.index(g): c for g, c in Counter(analyze(text)).items() if g in vocabulary}
    columns, counts = model.columns(text)
    assert dict(zip(columns.tolist(), counts.tolist(), strict=True)) == expected


def _model() -> CharNgramModel:
    return CharNgramModel(("win", "now", "lunch"), np.array([1.5, 1.2, 2.0]), np.array([3.0, 1.0, -2.0]), -0.5)


def test_logits_are_the_linear_model_over_l2_normalised_sublinear_tf_idf():
    model = _model()
    assert model.logits(["zzz"]) == pytest.approx([-0.5])  # no n-gram of the vocabulary: the intercept alone
    # "win win now": 'win' twice (tf 1 + ln 2), 'now' once; weights tf * idf, L2-normalised, dotted with coef.
    analyzed = analyze("win win now")
    assert analyzed.count("win") == 2 and analyzed.count("now") == 1
    weights = np.array([(1 + np.log(2)) * 1.5, 1.0 * 1.2])
    expected = -0.5 + weights @ np.array([3.0, 1.0]) / np.linalg.norm(weights)
    assert model.logits(["win win now", "zzz"]) == pytest.approx([expected, -0.5])


def test_a_model_round_trips_through_its_file_and_a_broken_file_is_refused(tmp_path):
    model = _model()
    path = tmp_path / "char_ngrams.npz"
    path.write_bytes(model.to_bytes())
    loaded = CharNgramModel.load(path)
    assert loaded.ngrams == model.ngrams and loaded.logits(TEXTS) == pytest.approx(model.logits(TEXTS))
    path.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a character n-gram model"):
        CharNgramModel.load(path)
    buffer = io.BytesIO()
    np.savez(buffer, ngrams=np.array(["a"]))  # no idf, coefficients or intercept
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="not a character n-gram model"):
        CharNgramModel.load(path)
    with pytest.raises(ValueError, match="2 n-grams, 1 idf values"):
        CharNgramModel(("a", "b"), np.ones(1), np.ones(2), 0.0)
    many = tuple(chr(0x4E00 + i) * 2 for i in range(5000))  # more characters than a key holds
    with pytest.raises(ValueError, match="5000 distinct characters"):
        CharNgramModel(many, np.ones(5000), np.ones(5000), 0.0)
    for ngrams, idf, message in [
        (("abcdef", "ab"), np.ones(2), "not 'abcdef'"),  # cut to "abcde" it would score as another n-gram
        (("", "ab"), np.ones(2), "not ''"),
        (("ab", "cd", "ab"), np.ones(3), "'ab' is listed more than once"),
        (("ab", "cd"), np.array([1.0, np.nan]), "must be finite"),
    ]:
        with pytest.raises(ValueError, match=message):
            CharNgramModel(ngrams, idf, np.ones(len(ngrams)), 0.0)
        buffer = io.BytesIO()
        np.savez(buffer, ngrams=np.array(ngrams), idf=idf, coef=np.ones(len(ngrams)), intercept=np.zeros(1))
        path.write_bytes(buffer.getvalue())
        with pytest.raises(ValueError, match=message):
            CharNgramModel.load(path)
    empty = CharNgramModel((), np.zeros(0), np.zeros(0), 1.5)
    assert empty.logits(["anything"]) == pytest.approx([1.5])


def test_the_blend_weighs_the_two_log_odds():
    assert blended_log_odds(np.array([4.0, -2.0]), np.array([0.0, 2.0]), 0.25) == pytest.approx([3.0, -1.0])
    assert blended_log_odds(np.array([4.0]), np.array([-9.0]), 0.0) == pytest.approx([4.0])
