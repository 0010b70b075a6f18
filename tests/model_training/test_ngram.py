"""The character n-gram model: cross-fitted probabilities (no text scored by a model that saw it) and soft targets."""

import numpy as np
import pytest

from model_training.ngram import cross_fitted_probabilities, soft_targets


def test_every_text_is_scored_by_a_model_that_did_not_see_it():
    friends = ["jo", "the dog", "cash", "sam"]
    ham = [f"see you at the pub at {h} tonight, bring {friends[h % 4]}" for h in range(40)]
    spam = [f"WIN a FREE prize! call 0800{n:04d} now to claim" for n in range(40)]
    texts = [*ham, *spam, "WIN a FREE prize! call 08001234 now to claim"]  # a spam text labelled ham
    labels = np.array([0] * 40 + [1] * 40 + [0])
    probabilities = cross_fitted_probabilities(texts, labels, seed=3)
    assert probabilities.shape == (81,) and ((probabilities >= 0) & (probabilities <= 1)).all()
    assert probabilities[:40].max() < 0.5 < probabilities[40:80].min()
    assert probabilities[-1] > 0.5, "the mislabelled text was scored by a model fitted on its own label"
    assert (cross_fitted_probabilities(texts, labels, seed=3) == probabilities).all()  # deterministic


def test_soft_targets_mix_the_label_with_the_teacher():
    labels, teacher = np.array([0, 1, 1]), np.array([0.2, 0.9, 0.1])
    targets = soft_targets(labels, teacher, weight=0.5).numpy()
    assert targets[:, 1] == pytest.approx([0.1, 0.95, 0.55]) and targets.sum(axis=1) == pytest.approx(1.0)
    assert soft_targets(labels, teacher, weight=0.0).numpy()[:, 1] == pytest.approx(labels)


def test_the_served_form_scores_as_the_fitted_logistic_regression():
    from model_training.ngram import fit_char_ngram_model, logistic_regression, ngram_features

    texts = [f"see you at the pub at {h}, bring the dog" for h in range(20)]
    texts += [f"WIN a FREE prize! call 0800{n:04d} now" for n in range(20)]
    labels = np.array([0] * 20 + [1] * 20)
    held_out = ["free prize for the dog", "pub at 9?", "Çall NOW to WIN", "zzz"]
    features = ngram_features()
    reference = logistic_regression(3).fit(features.fit_transform(texts), labels)
    served = fit_char_ngram_model(texts, labels, seed=3)
    assert served.logits(held_out) == pytest.approx(reference.decision_function(features.transform(held_out)), abs=1e-9)
    assert len(served.ngrams) == len(features.vocabulary_)
