"""The default models ``make models`` and ``make run`` build when they are missing."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ml_common.datasets import SPAM_CORPORA_CITATION, load_spam_corpora
from serving_common.errors import ModelDirectoryError
from serving_common.model_dir import METRICS_FILE, validate_model_dir

log = logging.getLogger(__name__)
DEFAULT_SPAM_DIR = "spam-detector"
DEFAULT_INTENT_DIR = "intent-classifier"


def ensure_default_models(models_dir: Path) -> list[Path]:
    """Build every default model that is missing or invalid; leave valid ones alone (fast restarts)."""
    from ml_common.datasets import read_intent_prompts
    from model_training.intent import train_intent_model
    from model_training.spam import DEFAULT_GENERATED_HAM, train_spam_model

    # Both on their defaults: the pretrained MiniLM encoder, fine-tuned (model_training.backbones).
    builders = {
        DEFAULT_SPAM_DIR: lambda target: train_spam_model(
            load_spam_corpora(), target, dataset_source=SPAM_CORPORA_CITATION, generated_ham=DEFAULT_GENERATED_HAM
        ),
        DEFAULT_INTENT_DIR: lambda target: train_intent_model(read_intent_prompts(), target),
    }
    targets = []
    for name, build in builders.items():
        target = models_dir / name
        try:
            validate_model_dir(target)
            log.info("default model present: %s", target)
        except ModelDirectoryError as exc:
            log.info("building default model %s into %s (%s); a few minutes on 2 CPU cores", name, target, exc)
            build(target)
        targets.append(target)
    return targets


def report(model_dir: Path) -> str:
    """What ``make models`` prints per model: the split figures and, where there is one, the independent set's."""
    metrics = json.loads((model_dir / METRICS_FILE).read_text())
    name = f"{model_dir.name} {metrics['model_version']} ({metrics['backbone']}, {metrics['training']['seconds']} s)"
    held = metrics["held_out"]
    if metrics["task"] == "spam":
        base, svc = metrics["baseline_tfidf"], metrics.get("baseline_tfidf_svc")
        svc_line = f"; TF-IDF + LinearSVC F1 {svc['f1']:.3f}, ROC-AUC {svc['roc_auc']:.4f}" if svc else ""
        calibration = metrics.get("confidence_reliability")
        ece = f"; confidence ECE {calibration['ece']:.3f} (test split)" if calibration else ""
        lines = [
            f"{name}\n  test split: F1 {held['f1']:.3f}, ROC-AUC {held['roc_auc']:.4f} at threshold "
            f"{held['threshold']:.3f}; TF-IDF + LR baseline F1 {base['f1']:.3f}, ROC-AUC {base['roc_auc']:.4f}"
            f"{svc_line}{ece}"
        ]
        svc_by = metrics.get("baseline_tfidf_svc_by_source", {})
        for source, m in metrics.get("by_source", {}).items():
            if source == "hard_ham":
                other = svc_by.get(source, {})
                lines.append(
                    f"  hard ham called spam: {m['false_positives']}/{m['support']} ({m['false_positive_rate']:.1%}); "
                    f"TF-IDF + LinearSVC {other.get('false_positives', '-')}/{other.get('support', '-')}"
                )
                continue
            other = svc_by.get(source, {})
            lines.append(
                f"  {source} test: F1 {m['f1']:.3f}, ROC-AUC {m['roc_auc']:.4f} ({m['support']} texts); TF-IDF + "
                f"LinearSVC F1 {other.get('f1', float('nan')):.3f}, ROC-AUC {other.get('roc_auc', float('nan')):.4f}"
            )
        for r in metrics.get("cross_source", []):
            figures = [f"TF-IDF + LinearSVC F1 {r['tfidf_svc']['f1']:.3f}, ROC-AUC {r['tfidf_svc']['roc_auc']:.4f}"]
            if "encoder" in r:
                figures.insert(0, f"encoder F1 {r['encoder']['f1']:.3f}, ROC-AUC {r['encoder']['roc_auc']:.4f}")
            lines.append(f"  trained on {r['trained_on']} only, tested on {r['tested_on']}: " + "; ".join(figures))
        from model_training.independent import evaluate_spam

        # A directory trained before the independent e-mails existed is measured on them now.
        independent = metrics.get("independent") or [evaluate_spam(model_dir)]
        for i in independent:
            ham = i["support"] - i["spam"]
            line = (
                f"  independent set {i['set']} ({i['support']} e-mails written apart, {i['spam']} spam): ROC-AUC "
                f"{i['roc_auc']:.4f}, F1 {i['f1']:.3f}, ham called spam {i['ham_called_spam']}/{ham}"
            )
            svc = i.get("baseline_tfidf_svc")
            if svc:
                line += (
                    f"; TF-IDF + LinearSVC ROC-AUC {svc['roc_auc']:.4f}, F1 {svc['f1']:.3f}, "
                    f"ham called spam {svc['ham_called_spam']}/{ham}"
                )
            lines.append(line)
        return "\n".join(lines)
    lines = [
        name,
        f"  test split (generator's prompts): intent accuracy {held['intent_accuracy']:.3f}, "
        f"complexity level accuracy {held['complexity_level_accuracy']:.3f}",
    ]
    from model_training.independent import INTENT_SETS, evaluate_intent

    # A directory trained before the independent sets existed (or before the second) is measured on them now.
    independent = metrics.get("independent")
    if not isinstance(independent, list) or len(independent) < len(INTENT_SETS):
        independent = [evaluate_intent(model_dir, path) for path in INTENT_SETS]
    for i in independent:
        lines.append(
            f"  independent set {i['set']} ({i['support']} prompts written apart): intent accuracy "
            f"{i['intent_accuracy']:.3f}, complexity level accuracy {i['complexity_level_accuracy']:.3f}, "
            f"confidence ECE {i['confidence_reliability']['ece']:.3f}"
        )
    return "\n".join(lines)
