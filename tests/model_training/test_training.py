import json

import pytest

from ml_common.datasets import Example, deduplicate, load_sms_spam, read_labelled_file, stratified_split
from serving_common.model_dir import read_metadata


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
    calibration = metrics["confidence_reliability"]
    assert calibration["split"] == "test" and 0.0 <= calibration["ece"] <= 1.0
    assert sum(b["rows"] for b in calibration["bins"]) == metrics["held_out"]["support"]
    assert all(b["bin"][0] >= 0.5 for b in calibration["bins"])  # the likelier class is at least 0.5 likely
    card = (model_dir / "README.md").read_text()
    assert "TF-IDF" in card and f"expected calibration error {calibration['ece']:.3f}" in card


def test_train_command_passes_its_options_to_the_training_run(tmp_path):
    from model_training.__main__ import main
    from tests.ml_common.test_extra_data import write_export

    out = tmp_path / "cli-model"
    args = ["train", "--backbone", "deberta-v2-small", "--limit", "300", "--epochs", "1", "--vocab-size", "500"]
    args += ["--learning-rate", "3e-4", "--ngram-teacher-weight", "0.3", "--tail-tokens", "16"]
    extra = write_export(
        tmp_path / "labelled.parquet", [("Your parcel is held: pay the fee at this link", "spam", True)]
    )
    assert main([*args, "--seed", "5", "--extra-data", str(extra), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    training = metrics["training"]
    names = ("epochs", "vocab_size", "learning_rate", "seed", "ngram_teacher_weight", "tail_tokens")
    chosen = {k: training[k] for k in names}
    assert chosen == {
        "epochs": 1,
        "vocab_size": 500,
        "learning_rate": 3e-4,
        "seed": 5,
        "ngram_teacher_weight": 0.3,
        "tail_tokens": 16,
    }
    assert read_metadata(out).tail_tokens == 16  # serving cuts as training did
    assert "0.3 the probability of a character n-gram logistic regression" in (out / "README.md").read_text()
    assert len(json.loads((out / "tokenizer.json").read_text())["model"]["vocab"]) <= 500
    # Users' labelled rows: in training only, and the card says so.
    assert metrics["dataset"]["extra_training_data"]["used"] == 1
    assert metrics["dataset"]["sizes_by_stratum"]["train"]["feedback/spam"] == 1
    assert not any(k.startswith("feedback/") for k in metrics["dataset"]["sizes_by_stratum"]["test"])
    assert "1 of 1 rows added to the\n**training split only**" in (out / "README.md").read_text()


def test_a_tail_longer_than_half_the_model_length_is_refused_before_training(tmp_path):
    from model_training.__main__ import main

    args = ["train", "--backbone", "deberta-v2-small", "--limit", "50", "--max-length", "48", "--tail-tokens", "32"]
    with pytest.raises(ValueError, match="tail_tokens 32 is more than half of the 48 tokens"):
        main([*args, "--out", str(tmp_path / "model")])
    assert not (tmp_path / "model").exists()
