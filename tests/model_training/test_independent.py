import json

import pytest

from ml_common.datasets import read_intent_prompts
from model_training.independent import INTENT_SETS, read_independent_intents, set_name
from model_training.intent_data import INTENTS
from serving_common.features import normalize_text
from serving_common.model_dir import METRICS_FILE


@pytest.mark.parametrize("path", INTENT_SETS, ids=lambda p: p.name)
def test_the_independent_intent_sets_are_labelled_balanced_and_apart_from_the_training_data(path):
    rows = read_independent_intents(path)
    assert len(rows) >= 150
    assert {r["intent"] for r in rows} == set(INTENTS)
    assert min(sum(r["intent"] == i for r in rows) for i in INTENTS) >= 15
    assert {r["complexity_level"] for r in rows} == {"simple", "moderate", "complex"}
    training = {normalize_text(r["text"]).casefold() for r in read_intent_prompts()}
    assert not [r["text"] for r in rows if normalize_text(r["text"]).casefold() in training]
    assert len({r["text"] for r in rows}) == len(rows)
    others = {
        normalize_text(r["text"]).casefold() for p in INTENT_SETS if p != path for r in read_independent_intents(p)
    }
    assert not [r["text"] for r in rows if normalize_text(r["text"]).casefold() in others]


def test_training_reports_the_independent_set(intent_model_dir):
    metrics = json.loads((intent_model_dir / METRICS_FILE).read_text())
    independent = metrics["independent"]
    assert [i["set"] for i in independent] == [set_name(p) for p in INTENT_SETS]
    assert [i["support"] for i in independent] == [len(read_independent_intents(p)) for p in INTENT_SETS]
    assert all(0.0 <= i["intent_accuracy"] <= 1.0 for i in independent)
    card = (intent_model_dir / "README.md").read_text()
    assert all(f"### {set_name(p)}" in card for p in INTENT_SETS)


def test_make_models_reports_split_and_independent_figures(intent_model_dir, model_dir):
    from model_training.defaults import report

    intent = report(intent_model_dir)
    assert "test split (generator's prompts): intent accuracy" in intent
    for path in INTENT_SETS:
        assert f"independent set {set_name(path)} (" in intent
    spam = report(model_dir)
    assert "TF-IDF + LR baseline F1" in spam and "TF-IDF + LinearSVC F1" in spam


def test_a_model_trained_before_the_independent_set_is_measured_on_it(intent_model_dir, tmp_path):
    import shutil

    from model_training.defaults import report

    old = tmp_path / "intent-classifier"
    shutil.copytree(intent_model_dir, old)
    metrics = json.loads((old / METRICS_FILE).read_text())
    del metrics["independent"]
    (old / METRICS_FILE).write_text(json.dumps(metrics))
    assert all(f"independent set {set_name(p)} (" in report(old) for p in INTENT_SETS)
