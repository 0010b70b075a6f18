"""Held-out metrics, decision thresholds, and the cheap baseline a user would otherwise pick."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)


def binary_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    y_pred = (scores >= threshold).astype(int)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(y_true, scores)),
        "threshold": float(threshold),
        "confusion_matrix": {"labels": ["negative", "positive"], "matrix": confusion_matrix(y_true, y_pred).tolist()},
        "support": len(y_true),
    }


def choose_threshold(y_true: np.ndarray, scores: np.ndarray) -> float:
    """The threshold with the best F1 on validation data (ties: the one closest to 0.5)."""
    candidates = np.unique(np.concatenate([scores, [0.5]]))
    best, best_key = 0.5, (-1.0, 0.0)
    for t in candidates:
        if not 0.0 < t < 1.0:
            continue
        f1 = f1_score(y_true, scores >= t, zero_division=0)
        key = (round(float(f1), 6), -abs(float(t) - 0.5))
        if key > best_key:
            best, best_key = float(t), key
    return best


def tfidf_baseline(
    train_texts: list[str],
    y_train: np.ndarray,
    val_texts: list[str],
    y_val: np.ndarray,
    test_texts: list[str],
    y_test: np.ndarray,
    seed: int,
) -> dict:
    """Character n-gram TF-IDF + logistic regression, thresholded on validation like the served model."""
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
    x_train = vectorizer.fit_transform(train_texts)
    clf = LogisticRegression(C=20.0, max_iter=2000, random_state=seed)
    clf.fit(x_train, y_train)
    val_scores = clf.predict_proba(vectorizer.transform(val_texts))[:, 1]
    threshold = choose_threshold(y_val, val_scores)
    test_scores = clf.predict_proba(vectorizer.transform(test_texts))[:, 1]
    metrics = binary_metrics(y_test, test_scores, threshold)
    metrics["model"] = "char_wb 2-5 gram TF-IDF + LogisticRegression(C=20)"
    return metrics
