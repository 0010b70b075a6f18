"""Evaluation on text written apart from the training data: ``training/data/independent/``.

Two intent sets and one e-mail set, never used for training or threshold choice.

Two intent sets, each prompt labelled with its intent and complexity level (the rubric in docs/api.md), written
by hand without the generator's templates or word lists and never used for training, threshold choice or
model selection:
- ``intent_prompts.jsonl`` (200 prompts, 20 per intent). Every change to the generator since it was
  written has been measured on it, so it is no longer blind (docs/models.md).
- ``intent_prompts_b.jsonl`` (150 prompts, 15 per intent), written once the generator and the rubric were
  final and before any model was measured on it.
Reported by ``make models`` next to the split figures.

One e-mail set, ``spam_emails.jsonl``: 113 raw RFC 822 messages (65 ham, 48 spam) written by hand for this
project (2026-12-05), in kinds neither training corpus holds: business mail (deal numbers, meter readings,
forwarded schedules, remittances, contracts), personal and community mail, transactional mail (tickets,
receipts, password resets, CI and code-review notifications), newsletters and shop offers the recipient
subscribed to, mailing-list discussion, in English (two messages in French, one in German); and present-day
spam (phishing for banks, mail and delivery accounts, advance-fee fraud, crypto, pharmacy, invoice and
gift-card fraud, extortion, cold marketing). Each row holds its label, its kind and the raw message,
encoded as mail servers send it (text/plain, quoted-printable, base64, HTML only, multipart/alternative,
latin-1, with an attachment); the text the model reads comes from the serving parser
(``serving_common.email_message``), as for the SpamAssassin corpus. It was written in full before any model
was measured on it, and measures the spam detector on mail unlike its training sources, as the issue's two
held-back corpora do. It has decided one thing, by a rule fixed beforehand: whether the default learns from
generated business mail too (``model_training.mail_ham``; docs/models.md).

Confidence is reported with its reliability on the same set: the expected calibration error (ECE)
over ten equal-width confidence bins, and the bins themselves (mean confidence against accuracy).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score

from ml_common.classifier import SequenceClassifier
from model_training.evaluation import binary_metrics, reliability
from serving_common.email_message import parse_email
from serving_common.pipeline import TextPipeline
from serving_common.tasks import IntentVerdict

ROOT = Path(__file__).resolve().parents[2]
INDEPENDENT_DIR = ROOT / "training" / "data" / "independent"
INTENT_INDEPENDENT = INDEPENDENT_DIR / "intent_prompts.jsonl"
INTENT_INDEPENDENT_B = INDEPENDENT_DIR / "intent_prompts_b.jsonl"
INTENT_SETS = (INTENT_INDEPENDENT, INTENT_INDEPENDENT_B)
SPAM_INDEPENDENT = INDEPENDENT_DIR / "spam_emails.jsonl"


def read_independent_intents(path: Path = INTENT_INDEPENDENT) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score_intent(verdicts: Sequence[IntentVerdict], rows: Sequence[dict[str, str]]) -> dict[str, Any]:
    """Intent accuracy, complexity-level accuracy and confidence reliability of verdicts on labelled rows."""
    intents = np.array([r["intent"] for r in rows])
    predicted = np.array([v.intent for v in verdicts])
    levels = np.array([r["complexity_level"] for r in rows])
    predicted_levels = np.array([v.complexity_level for v in verdicts])
    correct = predicted == intents
    return {
        "support": len(rows),
        "intent_accuracy": round(float(correct.mean()), 4),
        "intent_macro_f1": round(float(f1_score(intents, predicted, average="macro")), 4),
        "complexity_level_accuracy": round(float((predicted_levels == levels).mean()), 4),
        "complexity_levels": {
            level: {
                "support": int((levels == level).sum()),
                "accuracy": round(float((predicted_levels[levels == level] == level).mean()), 4),
            }
            for level in ("simple", "moderate", "complex")
        },
        "confidence_reliability": reliability(np.array([v.confidence for v in verdicts]), correct),
    }


def evaluate_intent(model_dir: Path, path: Path = INTENT_INDEPENDENT) -> dict[str, Any]:
    """A model directory, as the platform serves it, on the independent intent set."""
    rows = read_independent_intents(path)
    classifier = SequenceClassifier.load(model_dir, torch.device("cpu"), torch.float32)
    scored = TextPipeline.from_model_dir(model_dir).run(classifier.infer, [r["text"] for r in rows], batch_size=32)
    return {"set": set_name(path), **score_intent(scored.verdicts, rows)}


def set_name(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def read_independent_emails(path: Path = SPAM_INDEPENDENT) -> list[dict[str, str]]:
    """Rows of ``label`` (ham or spam), ``kind``, ``format`` and the raw ``message``."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def email_texts(rows: Sequence[dict[str, str]]) -> list[str]:
    """What the model reads of each raw message: the serving parser's text."""
    return [parse_email(r["message"]).model_text() for r in rows]


def score_spam(spam_probability: np.ndarray, rows: Sequence[dict[str, str]], threshold: float) -> dict[str, Any]:
    """Binary figures at the model's threshold, the share of ham called spam, and the errors by kind."""
    spam = np.array([r["label"] == "spam" for r in rows])
    called = spam_probability >= threshold
    wrong = called != spam
    ham_called = called & ~spam
    groups = np.array([f"{r['label']}/{r['kind']}" for r in rows])
    figures = binary_metrics(spam.astype(int), spam_probability, threshold)
    return {
        **figures,
        "spam": int(spam.sum()),
        "ham_called_spam": int(ham_called.sum()),
        "ham_false_positive_rate": round(float(ham_called.sum() / max(int((~spam).sum()), 1)), 4),
        "errors_by_kind": {
            g: {"support": int((groups == g).sum()), "errors": int(wrong[groups == g].sum())}
            for g in sorted(set(groups))
        },
    }


def evaluate_spam(model_dir: Path, path: Path = SPAM_INDEPENDENT) -> dict[str, Any]:
    """A spam model directory, as the platform serves it (float32 PyTorch), on the independent e-mails."""
    rows = read_independent_emails(path)
    classifier = SequenceClassifier.load(model_dir, torch.device("cpu"), torch.float32)
    pipeline = TextPipeline.from_model_dir(model_dir)
    scored = pipeline.run(classifier.infer, email_texts(rows), batch_size=32)
    probability = np.array([v.spam_probability for v in scored.verdicts])
    return {"set": set_name(path), **score_spam(probability, rows, pipeline.metadata.threshold)}
