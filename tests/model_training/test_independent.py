import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ml_common.datasets import read_intent_prompts
from model_training.independent import (
    INTENT_SETS,
    SPAM_INDEPENDENT,
    email_texts,
    read_independent_emails,
    read_independent_intents,
    score_spam,
    set_name,
)
from model_training.intent_data import INTENTS
from serving_common.model_dir import METRICS_FILE
from serving_common.normalization import normalize_text


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


def _trained_before_the_independent_sets(model_dir: Path, tmp_path: Path) -> Path:
    """A copy of a model directory whose metrics predate the independent sets."""
    old = tmp_path / model_dir.name
    shutil.copytree(model_dir, old)
    metrics = json.loads((old / METRICS_FILE).read_text())
    del metrics["independent"]
    (old / METRICS_FILE).write_text(json.dumps(metrics))
    return old


def test_a_model_trained_before_the_independent_set_is_measured_on_it(intent_model_dir, tmp_path):
    from model_training.defaults import report

    old = _trained_before_the_independent_sets(intent_model_dir, tmp_path)
    assert all(f"independent set {set_name(p)} (" in report(old) for p in INTENT_SETS)


def test_the_independent_emails_are_raw_labelled_messages_apart_from_the_training_corpora():
    from ml_common.datasets import load_sms_spam
    from ml_common.mail_corpus import load_spamassassin

    rows = read_independent_emails()
    assert {r["label"] for r in rows} == {"ham", "spam"}
    assert min(sum(r["label"] == label for r in rows) for label in ("ham", "spam")) >= 40
    # Encoded as mail servers send it; every message parses to text with the serving parser.
    assert {r["format"] for r in rows} == {"plain", "qp", "b64", "latin1", "html", "alt", "attach"}
    texts = email_texts(rows)
    assert all(texts) and len(set(texts)) == len(rows)
    training = {normalize_text(e.text).casefold() for e in [*load_sms_spam(), *load_spamassassin()]}
    assert not [t for t in texts if normalize_text(t).casefold() in training]


def test_spam_figures_on_a_labelled_set_count_ham_called_spam_and_errors_by_kind():
    rows = [
        {"label": "ham", "kind": "business"},
        {"label": "ham", "kind": "business"},
        {"label": "ham", "kind": "newsletter"},
        {"label": "spam", "kind": "phishing"},
        {"label": "spam", "kind": "phishing"},
    ]
    figures = score_spam(np.array([0.1, 0.7, 0.2, 0.9, 0.4]), rows, threshold=0.5)
    assert figures["support"] == 5 and figures["spam"] == 2
    assert figures["ham_called_spam"] == 1 and figures["ham_false_positive_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert figures["precision"] == 0.5 and figures["recall"] == 0.5
    assert figures["roc_auc"] == pytest.approx(5 / 6)  # of six (spam, ham) pairs, five are ranked right
    assert figures["errors_by_kind"] == {
        "ham/business": {"support": 2, "errors": 1},
        "ham/newsletter": {"support": 1, "errors": 0},
        "spam/phishing": {"support": 2, "errors": 1},
    }


def test_training_reports_the_spam_model_on_the_independent_emails(model_dir):
    from model_training.defaults import report

    metrics = json.loads((model_dir / METRICS_FILE).read_text())
    [independent] = metrics["independent"]
    assert independent["set"] == set_name(SPAM_INDEPENDENT)
    assert independent["support"] == len(read_independent_emails())
    assert 0.0 <= independent["roc_auc"] <= 1.0
    assert independent["baseline_tfidf_svc"]["support"] == independent["support"]
    assert (
        "## Independent e-mails: `training/data/independent/spam_emails.jsonl`" in (model_dir / "README.md").read_text()
    )
    assert f"independent set {set_name(SPAM_INDEPENDENT)} (" in report(model_dir)
    assert "TF-IDF + LinearSVC ROC-AUC" in report(model_dir)


def test_a_spam_model_trained_before_the_independent_emails_is_measured_on_them(model_dir, tmp_path):
    from model_training.defaults import report

    old = _trained_before_the_independent_sets(model_dir, tmp_path)
    assert f"independent set {set_name(SPAM_INDEPENDENT)} ({len(read_independent_emails())} e-mails" in report(old)
