"""The character n-gram model: the cheap baseline a user would otherwise pick, half of the spam default's
verdict, and a teacher the spam model can be distilled towards.

One definition of its features and its logistic regression, used by the baselines in ``evaluation``, by
``fit_char_ngram_model`` (the model blended into the spam verdict, in the form serving scores it:
``serving_common.char_ngrams``) and by ``cross_fitted_probabilities``, which gives every training text the
probability of a model that did not see it (``soft_targets``).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from serving_common.char_ngrams import CharNgramModel, analyze

FOLDS = 5


def ngram_features() -> TfidfVectorizer:
    """Character 2-5-grams within word boundaries of a text's lower-cased head (``serving_common.char_ngrams``,
    which serving scores with), sublinear term frequency, n-grams seen in two texts at least."""
    return TfidfVectorizer(analyzer=analyze, sublinear_tf=True, min_df=2)


def logistic_regression(seed: int) -> LogisticRegression:
    return LogisticRegression(C=20.0, max_iter=2000, random_state=seed)


def fit_char_ngram_model(texts: list[str], labels: np.ndarray, seed: int) -> CharNgramModel:
    """The n-gram logistic regression fitted on ``texts``, in the form serving scores it."""
    features = ngram_features()
    model = logistic_regression(seed).fit(features.fit_transform(texts), labels)
    ngrams = sorted(features.vocabulary_, key=features.vocabulary_.__getitem__)
    return CharNgramModel(tuple(ngrams), features.idf_, model.coef_[0].copy(), float(model.intercept_[0]))


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
