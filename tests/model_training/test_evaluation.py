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


def test_threshold_ignores_a_gain_within_one_standard_error_of_validation_f1():
    # 200 spam, 800 ham, eight errors at any threshold (four ham scored 0.9+, four spam 0.03-0.06). Two spam at
    # 0.3 and 0.4: a threshold of 0.2 catches both, 0.5 neither. Two texts of 200 are within one bootstrap
    # standard error of F1 (about 0.007, three texts): the rule keeps 0.5 (with one error as the margin it took 0.4).
    y = np.array([1] * 200 + [0] * 800)
    scores = np.concatenate(
        [
            np.linspace(0.8, 0.999, 194),
            [0.3, 0.4],
            [0.03, 0.04, 0.05, 0.06],
            np.linspace(0.001, 0.1, 792),
            [0.15, 0.16, 0.17, 0.18],
            [0.9, 0.92, 0.94, 0.96],
        ]
    )
    assert choose_threshold(y, scores) == 0.5
    assert choose_threshold(y, scores, resamples=200, seed=1) == 0.5  # not one lucky resampling


def test_threshold_is_reproducible():
    rng = np.random.default_rng(3)
    y = rng.random(500) < 0.2
    scores = np.clip(np.where(y, 0.7, 0.3) + rng.normal(0, 0.2, 500), 0.001, 0.999)
    assert choose_threshold(y, scores) == choose_threshold(y, scores)
