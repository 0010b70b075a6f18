import numpy as np

from model_training.evaluation import choose_threshold, reliability


def test_reliability_is_zero_for_a_calibrated_model_and_the_gap_otherwise():
    confidence = np.array([0.95] * 20 + [0.55] * 20)
    calibrated = np.array([True] * 19 + [False] + [True] * 11 + [False] * 9)
    assert reliability(confidence, calibrated)["ece"] == 0.0
    overconfident = np.array([True] * 10 + [False] * 10 + [True] * 11 + [False] * 9)
    result = reliability(confidence, overconfident)
    assert result["ece"] == 0.225  # half the rows 0.95 confident, 0.5 right
    assert [b["rows"] for b in result["bins"]] == [20, 20]


def test_threshold_ignores_a_gain_smaller_than_one_validation_text():
    # One spam scored 0.3, one ham 0.25: a threshold of 0.3 makes no error, 0.5 makes one (the spam).
    # One text of 20 is noise, not evidence: the rule keeps 0.5 (the old exact-maximum rule took 0.3).
    y = np.array([1] * 20 + [0] * 80)
    scores = np.concatenate([np.linspace(0.9, 0.99, 19), [0.3], np.linspace(0.01, 0.2, 79), [0.25]])
    assert choose_threshold(y, scores) == 0.5


def test_threshold_follows_a_clear_gain():
    # Five hams at 0.55-0.59 sit above 0.5: a threshold above them removes (at least four of) five errors.
    y = np.array([1] * 20 + [0] * 80)
    scores = np.concatenate([np.linspace(0.8, 0.99, 20), np.linspace(0.01, 0.3, 75), np.linspace(0.55, 0.59, 5)])
    threshold = choose_threshold(y, scores)
    assert 0.55 < threshold <= 0.8
    assert ((scores >= threshold) != y.astype(bool)).sum() <= 1
