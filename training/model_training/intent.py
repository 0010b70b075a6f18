"""The intent classifier: one DeBERTa forward pass, two heads.

The output projection has 11 columns: 10 intent logits (softmax) and 1 complexity logit (sigmoid).
``metadata.json`` describes that layout as two heads, so the model server serves it like any
sequence classifier, and the feature transformer reads each head by its description.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from torch.nn import functional as F

from ml_common.datasets import INTENT_PROMPTS_PATH, Example, stratified_split
from model_training.backbones import DEFAULT_BACKBONE, config_for, load_backbone
from model_training.evaluation import reliability_rows
from model_training.export import export_model_dir
from model_training.independent import INTENT_SETS, read_independent_intents, score_intent, set_name
from model_training.intent_data import INTENTS
from model_training.trainer import (
    LabelledTexts,
    LossFn,
    TrainingConfig,
    predict_logits,
    seed_everything,
    train_classifier,
)
from serving_common.features import normalize_text
from serving_common.model_dir import HeadSpec, ModelMetadata, Task
from serving_common.postprocess import complexity_level
from serving_common.tasks import INTENT

COMPLEXITY_COLUMN = len(INTENTS)
OUTPUT_LABELS = [*INTENTS, "complexity"]
SERVING_MAX_LENGTH = 512
# From scratch. The default is the pretrained MiniLM encoder fine-tuned (``FINE_TUNING``): on the
# independent prompts it gets the intent right for 0.91 of them where the from-scratch one gets 0.44.
SCRATCH_CONFIG = TrainingConfig(epochs=8, learning_rate=1e-3, max_train_length=96)
COMPLEXITY_LOSS_WEIGHT = 4.0


def intent_loss() -> LossFn:
    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        intent = F.cross_entropy(logits[:, :COMPLEXITY_COLUMN], targets[:, 0].long())
        complexity = F.binary_cross_entropy_with_logits(logits[:, COMPLEXITY_COLUMN], targets[:, 1].float())
        return intent + COMPLEXITY_LOSS_WEIGHT * complexity

    return loss


def heads() -> list[HeadSpec]:
    return [
        HeadSpec(name="intent", kind="classification", start=0, size=len(INTENTS), labels=list(INTENTS)),
        HeadSpec(name="complexity", kind="regression", start=COMPLEXITY_COLUMN, size=1),
    ]


def train_intent_model(
    rows: list[dict],
    out_dir: Path,
    *,
    name: str = "intent-classifier",
    backbone: str = DEFAULT_BACKBONE,
    config: TrainingConfig | None = None,
    dataset_source: str = f"{INTENT_PROMPTS_PATH.name} (synthetic prompts written by the project)",
    device: torch.device | None = None,
) -> ModelMetadata:
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config = config or config_for(backbone, SCRATCH_CONFIG)
    started = time.perf_counter()
    complexity_of = {normalize_text(r["text"]).casefold(): float(r["complexity"]) for r in rows}
    splits = stratified_split([Example(r["text"], r["intent"]) for r in rows], seed=config.seed)
    parts = {"train": splits.train, "validation": splits.validation, "test": splits.test}
    texts = {p: [e.text for e in ex] for p, ex in parts.items()}
    intent_ids = {p: np.array([INTENTS.index(e.label) for e in ex]) for p, ex in parts.items()}
    complexity = {p: np.array([complexity_of[e.text.casefold()] for e in ex]) for p, ex in parts.items()}

    seed_everything(config.seed)
    bb = load_backbone(
        backbone,
        train_texts=texts["train"],
        labels=OUTPUT_LABELS,
        max_length=SERVING_MAX_LENGTH,
        vocab_size=config.vocab_size,
    )
    train, validation = (
        LabelledTexts(texts[p], torch.tensor(np.stack([intent_ids[p], complexity[p]], axis=1), dtype=torch.float32))
        for p in ("train", "validation")
    )
    history = train_classifier(
        bb.model, bb.tokenizer, train, validation, intent_loss(), config, device, f"training {name}"
    )

    metadata = ModelMetadata(
        name=name,
        version="auto",
        task=Task.INTENT,
        architecture=type(bb.model).__name__,
        labels=OUTPUT_LABELS,
        max_length=SERVING_MAX_LENGTH,
        heads=heads(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        extra={"backbone": bb.source, "dataset_hash": splits.dataset_hash},
    )
    evaluation = {}
    for part in ("validation", "test"):
        logits = predict_logits(bb.model, bb.tokenizer, texts[part], SERVING_MAX_LENGTH, device)
        evaluation[part] = _evaluate(INTENT.verdicts(logits, metadata), intent_ids[part], complexity[part])
    # Prompts written apart from the generator (never used for training or any choice): the figure that
    # says how the model does on what users write.
    independent = []
    for path in INTENT_SETS:
        rows_of_set = read_independent_intents(path)
        logits = predict_logits(bb.model, bb.tokenizer, [r["text"] for r in rows_of_set], SERVING_MAX_LENGTH, device)
        independent.append({"set": set_name(path), **score_intent(INTENT.verdicts(logits, metadata), rows_of_set)})
    metrics = {
        "task": "intent",
        "split": "test",
        "held_out": evaluation["test"],
        "validation": evaluation["validation"],
        "independent": independent,
        "dataset": {
            "source": dataset_source,
            "hash": splits.dataset_hash,
            "split_seed": splits.seed,
            "sizes": {p: len(v) for p, v in texts.items()},
            "duplicates_removed": splits.duplicates_removed,
        },
        "backbone": bb.source,
        "training": {
            **asdict(config),
            **history.as_dict(),
            "device": str(device),
            "seconds": round(time.perf_counter() - started, 1),
        },
    }
    return export_model_dir(out_dir, bb.model, bb.tokenizer, metadata, metrics, _model_card(name, metrics))


def _evaluate(verdicts: list, intent_ids: np.ndarray, complexity: np.ndarray) -> dict:
    predicted = np.array([INTENTS.index(v.intent) for v in verdicts])
    scores = np.array([v.complexity_score for v in verdicts])
    true_levels = [complexity_level(c) for c in complexity]
    return {
        "intent_accuracy": float(accuracy_score(intent_ids, predicted)),
        "intent_macro_f1": float(f1_score(intent_ids, predicted, average="macro")),
        "intent_f1_per_class": {
            INTENTS[i]: float(f) for i, f in enumerate(f1_score(intent_ids, predicted, average=None, labels=range(10)))
        },
        "complexity_level_accuracy": float(accuracy_score(true_levels, [v.complexity_level for v in verdicts])),
        "complexity_mae": float(np.abs(scores - complexity).mean()),
        "support": len(verdicts),
    }


def _model_card(name: str, m: dict) -> str:
    h = m["held_out"]
    return f"""# {name} ({{version}})

Prompt intent classifier with a complexity score (the BetterPrompts use case). One DeBERTa-v2 forward
pass (`{m["backbone"]}`, `DebertaV2ForSequenceClassification`) with two heads described in
`metadata.json`: intent over 10 classes (softmax over columns 0-9) and complexity in [0, 1]
(sigmoid of column 10; simple < 0.33 <= moderate < 0.67 <= complex).

## Data
{m["dataset"]["source"]}: {sum(m["dataset"]["sizes"].values())} prompts after de-duplication, stratified
split by intent (seed {m["dataset"]["split_seed"]}): {m["dataset"]["sizes"]}. The prompts are generated by
`model_training/intent_data.py` from hand-written task cores, topics, openers and constraints;
complexity is computed from what each prompt asks (the rubric in docs/api.md), and each prompt is said in one
of many ways (context sentences, thanks, lower case, typos). Held-out prompts come from the same generator,
so these figures overstate accuracy on real user prompts.

## Held-out results (test split)
| metric | value |
|---|---|
| intent macro-F1 | {h["intent_macro_f1"]:.4f} |
| intent accuracy | {h["intent_accuracy"]:.4f} |
| complexity level accuracy | {h["complexity_level_accuracy"]:.4f} |
| complexity MAE | {h["complexity_mae"]:.4f} |

## Independent sets
Prompts written by hand apart from the generator, never used for training or any choice (docs/models.md
in the textserve repository). These are the figures to expect on real prompts.

{"".join(_independent_section(i) for i in m["independent"])}"""


def _independent_section(i: dict) -> str:
    per_level = ", ".join(f"{level} {v['accuracy']:.2f}" for level, v in i["complexity_levels"].items())
    return f"""### {i["set"]} ({i["support"]} prompts)
| metric | value |
|---|---|
| intent accuracy | {i["intent_accuracy"]:.4f} |
| intent macro-F1 | {i["intent_macro_f1"]:.4f} |
| complexity level accuracy | {i["complexity_level_accuracy"]:.4f} ({per_level}) |
| intent confidence: expected calibration error (10 bins) | {i["confidence_reliability"]["ece"]:.3f} |

Reliability of the intent confidence (mean confidence against accuracy per bin):
{reliability_rows(i["confidence_reliability"], "prompts")}

"""
