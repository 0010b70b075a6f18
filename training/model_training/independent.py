"""Evaluation on text written apart from the training data: ``training/data/independent/``.

Two intent sets, each prompt labelled with its intent and complexity level (the rubric in docs/api.md), written
by hand without the generator's templates or word lists and never used for training, threshold choice or
model selection:
- ``intent_prompts.jsonl`` (200 prompts, 20 per intent). Every change to the generator since it was
  written has been measured on it, so it is no longer blind (docs/models.md).
- ``intent_prompts_b.jsonl`` (150 prompts, 15 per intent), written once the generator and the rubric were
  final and before any model was measured on it.
Reported by ``make models`` next to the split figures.

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
from model_training.evaluation import reliability
from serving_common.pipeline import TextPipeline
from serving_common.tasks import IntentVerdict

ROOT = Path(__file__).resolve().parents[2]
INDEPENDENT_DIR = ROOT / "training" / "data" / "independent"
INTENT_INDEPENDENT = INDEPENDENT_DIR / "intent_prompts.jsonl"
INTENT_INDEPENDENT_B = INDEPENDENT_DIR / "intent_prompts_b.jsonl"
INTENT_SETS = (INTENT_INDEPENDENT, INTENT_INDEPENDENT_B)


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
