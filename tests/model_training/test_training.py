import json

from ml_common.datasets import Example, deduplicate, load_sms_spam, read_labelled_file, stratified_split


def test_sms_spam_collection_is_read_from_its_package():
    examples = load_sms_spam()
    assert len(examples) == 4862
    assert {e.label for e in examples} == {"ham", "spam"}


def test_duplicates_never_straddle_the_split():
    splits = stratified_split(load_sms_spam(), seed=7)
    train = {e.text.casefold() for e in splits.train}
    held_out = {e.text.casefold() for e in splits.validation + splits.test}
    assert not train & held_out
    assert splits.duplicates_removed > 0
    total = len(splits.train) + len(splits.validation) + len(splits.test)
    assert 0.19 < len(splits.test) / total < 0.21


def test_split_is_stratified_and_reproducible():
    a = stratified_split(load_sms_spam(), seed=3)
    b = stratified_split(load_sms_spam(), seed=3)
    assert [e.text for e in a.test] == [e.text for e in b.test] and a.dataset_hash == b.dataset_hash
    rate = lambda part: sum(e.label == "spam" for e in part) / len(part)  # noqa: E731
    assert abs(rate(a.train) - rate(a.test)) < 0.01


def test_conflicting_duplicates_are_dropped():
    kept, removed = deduplicate([Example("Hi", "ham"), Example("hi ", "spam"), Example("yo", "ham")])
    assert [e.text for e in kept] == ["yo"] and removed == 2


def test_reads_csv_tsv_and_jsonl(tmp_path):
    (tmp_path / "a.csv").write_text("text,label\nhello,ham\nwin now,spam\n")
    (tmp_path / "b.tsv").write_text("ham\thello\nspam\twin now\n")
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps({"body": t, "y": y}) for t, y in [("hello", "ham")]))
    assert read_labelled_file(tmp_path / "a.csv") == [Example("hello", "ham"), Example("win now", "spam")]
    assert read_labelled_file(tmp_path / "b.tsv") == [Example("hello", "ham"), Example("win now", "spam")]
    assert read_labelled_file(tmp_path / "c.jsonl", "body", "y") == [Example("hello", "ham")]


def test_same_seed_same_model(model_dirs, tmp_path):
    from tests.conftest import build_tiny_model

    again = build_tiny_model(tmp_path / "again", seed=1)
    first = json.loads((model_dirs["staging"] / "metadata.json").read_text())["version"]
    assert json.loads((again / "metadata.json").read_text())["version"] == first
    other = json.loads((model_dirs["production"] / "metadata.json").read_text())["version"]
    assert other != first


def test_trained_directory_has_metrics_and_card(model_dir):
    metrics = json.loads((model_dir / "metrics.json").read_text())
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "confusion_matrix"):
        assert key in metrics["held_out"]
    assert metrics["dataset"]["hash"] and metrics["dataset"]["split_seed"] == 1
    assert "f1" in metrics["baseline_tfidf"] and metrics["training"]["seconds"] > 0
    assert "TF-IDF" in (model_dir / "README.md").read_text()


def test_threshold_ignores_a_gain_smaller_than_one_validation_text():
    import numpy as np

    from model_training.evaluation import choose_threshold

    # One spam scored 0.3, one ham 0.25: a threshold of 0.3 makes no error, 0.5 makes one (the spam).
    # One text of 20 is noise, not evidence: the rule keeps 0.5 (the old exact-maximum rule took 0.3).
    y = np.array([1] * 20 + [0] * 80)
    scores = np.concatenate([np.linspace(0.9, 0.99, 19), [0.3], np.linspace(0.01, 0.2, 79), [0.25]])
    assert choose_threshold(y, scores) == 0.5


def test_threshold_follows_a_clear_gain():
    import numpy as np

    from model_training.evaluation import choose_threshold

    # Five hams at 0.55-0.59 sit above 0.5: a threshold above them removes (at least four of) five errors.
    y = np.array([1] * 20 + [0] * 80)
    scores = np.concatenate([np.linspace(0.8, 0.99, 20), np.linspace(0.01, 0.3, 75), np.linspace(0.55, 0.59, 5)])
    threshold = choose_threshold(y, scores)
    assert 0.55 < threshold <= 0.8
    assert ((scores >= threshold) != y.astype(bool)).sum() <= 1


def test_train_command_passes_its_options_to_the_training_run(tmp_path):
    from model_training.__main__ import main

    out = tmp_path / "cli-model"
    args = ["train", "--backbone", "deberta-v2-small", "--limit", "300", "--epochs", "1", "--vocab-size", "500"]
    args += ["--learning-rate", "3e-4"]
    assert main([*args, "--seed", "5", "--out", str(out)]) == 0
    training = json.loads((out / "metrics.json").read_text())["training"]
    chosen = {k: training[k] for k in ("epochs", "vocab_size", "learning_rate", "seed")}
    assert chosen == {"epochs": 1, "vocab_size": 500, "learning_rate": 3e-4, "seed": 5}
    assert len(json.loads((out / "tokenizer.json").read_text())["model"]["vocab"]) <= 500
