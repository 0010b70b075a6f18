"""The character n-gram model: the cheap baseline a user would otherwise pick, and the spam model's teacher.

One definition of its features and its logistic regression, used by the baselines in ``evaluation`` and by
``cross_fitted_probabilities``, which gives every training text the probability of a model that did not
see it (what the spam detector is distilled towards, ``soft_targets``).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

FOLDS = 5
# The n-gram model reads the first 4,000 characters of a text (an SMS is all of it; an e-mail's subject and
# the start of its body, some 1,000 tokens, twice what the encoder reads): the whole of a long e-mail
# multiplies the fitting time for no gain measured (docs/models.md).
MAX_CHARS = 4000


def _lower_head(text: str) -> str:
    return text[:MAX_CHARS].lower()


def ngram_features() -> TfidfVectorizer:
    """Character 2-5-grams within word boundaries, sublinear term frequency, over the first ``MAX_CHARS``."""
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, preprocessor=_lower_head
    )


def logistic_regression(seed: int) -> LogisticRegression:
    return LogisticRegression(C=20.0, max_iter=2000, random_state=seed)


def cross_fitted_probabilities(texts: list[str], labels: np.ndarray, seed: int, folds: int = FOLDS) -> np.ndarray:
    """P(class 1) for every text from an n-gram model fitted on the other folds, never on the text itself
    (fitted on it, the model would mostly repeat its label back)."""
    labels = np.asarray(labels)
    probabilities = np.zeros(len(texts))
    for fit, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, labels):
        features = ngram_features()
        x_fit = features.fit_transform([texts[i] for i in fit])
        model = logistic_regression(seed).fit(x_fit, labels[fit])
        probabilities[held] = model.predict_proba(features.transform([texts[i] for i in held]))[:, 1]
    return probabilities


def soft_targets(labels: np.ndarray, teacher: np.ndarray, weight: float) -> torch.Tensor:
    """Two-class training targets, one row per text: ``weight`` of the teacher's probability, the rest the label."""
    positive = (1.0 - weight) * np.asarray(labels, dtype=np.float64) + weight * np.asarray(teacher)
    return torch.tensor(np.stack([1.0 - positive, positive], axis=1), dtype=torch.float32)
