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
