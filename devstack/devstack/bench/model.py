"""The raw model in the bench's own process: realistic emails of a given length, the in-process ceiling
the servers are measured against, held-out quality of both runtimes, random models of a given shape."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from serving_common.features import compose_email_text
from serving_common.model_dir import read_metadata
from serving_common.tokenization import TextEncoder

if TYPE_CHECKING:
    from ml_common.shape_buckets import ShapeBuckets

SENTENCES = [
    "Dear customer, your account statement for this month is now available in the online portal.",
    "Please review the attached invoice and let us know if anything looks incorrect before Friday.",
    "Our team will be in the office on Monday to discuss the quarterly plan and the new budget.",
    "Reminder: the meeting has moved to the small conference room on the third floor at 2pm.",
    "Thanks again for your help with the migration last week, everything has been running smoothly.",
]


def make_email(target_tokens: int, encoder: TextEncoder) -> str:
    """A realistic email whose tokenised length is close to ``target_tokens``."""
    words: list[str] = []
    i = 0
    while True:
        words.extend(SENTENCES[i % len(SENTENCES)].split())
        i += 1
        if encoder.encode([" ".join(words)]).input_ids.shape[1] >= target_tokens:
            break
    while len(words) > 1 and encoder.encode([" ".join(words[:-1])]).input_ids.shape[1] >= target_tokens:
        words.pop()
    return " ".join(words)


def load_for_bench(
    model_dir: Path,
    runtime: str,
    onnx_dir: Path,
    compile_model: bool = False,
    static_shapes: ShapeBuckets | None = None,
    dtype: str = "auto",
):
    """The model as a server would run it; ``dtype`` is PyTorch's (``auto``: the model server's choice)."""
    from ml_common.runtime import load_classifier

    classifier = load_classifier(model_dir, runtime, onnx_dir, dtype=dtype, compile_model=compile_model)
    if runtime != "torch":
        return classifier
    if compile_model:
        classifier.warm_up(64)
    if static_shapes is not None:  # captured here, on the thread that measures, as the server captures on its own
        classifier.use_static_shapes(static_shapes)
        classifier.warm_up(1)
    return classifier


def ceiling(
    model_dir: Path,
    text: str,
    batch_sizes: list[int],
    seconds: float,
    runtime: str = "torch",
    onnx_dir: Path = Path(),
    compile_model: bool = False,
    static_shapes: bool = False,
    dtype: str = "auto",
) -> tuple[float, int, dict]:
    """The raw model in this process at its best batch size: the most any server could reach. With
    ``static_shapes``, in the CUDA-graph buckets a GPU model server captures for these batch sizes."""
    from ml_common.shape_buckets import ShapeBuckets

    metadata = read_metadata(model_dir)
    max_length = metadata.max_length
    encoder = TextEncoder.for_model(model_dir, metadata)
    tokens = int(encoder.encode([compose_email_text(text)]).input_ids.shape[1])
    buckets = ShapeBuckets.covering(max(batch_sizes), max_length, max(batch_sizes) * tokens) if static_shapes else None
    classifier = load_for_bench(model_dir, runtime, onnx_dir, compile_model, buckets, dtype)
    by_batch = {}
    for bs in batch_sizes:
        batch = encoder.encode([compose_email_text(text)] * bs)
        classifier.forward(batch.input_ids, batch.attention_mask)
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            classifier.forward(batch.input_ids, batch.attention_mask)
            done += bs
        by_batch[bs] = done / (time.perf_counter() - started)
    best = max(by_batch, key=by_batch.get)
    del classifier
    return by_batch[best], best, by_batch


def quality(model_dir: Path, onnx_dir: Path) -> dict | None:
    """Held-out F1 and ROC-AUC of both runtimes, with the verdicts the platform serves (binary models
    trained on the default dataset only)."""
    import numpy as np

    from ml_common.splits import TrainingDataMismatch, training_splits
    from model_training.evaluation import binary_metrics
    from serving_common.pipeline import TextPipeline

    metadata = read_metadata(model_dir)
    if metadata.positive_label is None:
        return None
    try:
        splits = training_splits(model_dir, metadata)
    except TrainingDataMismatch:
        return None
    pipeline = TextPipeline.from_model_dir(model_dir)
    texts = [e.text for e in splits.test]
    y = np.array([int(e.label == metadata.positive_label) for e in splits.test])
    result = {}
    for runtime in ("torch", "onnx"):
        scored = pipeline.run(load_for_bench(model_dir, runtime, onnx_dir, dtype="float32").infer, texts)
        scores = [pipeline.task.log_row(v).probability for v in scored.verdicts]
        m = binary_metrics(y, np.array(scores), metadata.threshold)
        result[runtime] = {"f1": round(m["f1"], 4), "roc_auc": round(m["roc_auc"], 4)}
    return result


def build_random_model(out: Path, template: Path, shape: str) -> Path:
    """A model directory shaped like ``shape`` with random weights, reusing the template's tokenizer; its
    verdicts are the encoder's alone (no n-gram model blended in)."""
    from model_training.backbones import random_model_of_shape

    out.mkdir(parents=True, exist_ok=True)
    metadata = read_metadata(template)
    random_model_of_shape(shape, metadata.labels).save_pretrained(out, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if (template / name).exists():
            shutil.copy(template / name, out / name)
    meta = metadata.model_dump(mode="json") | {
        "version": f"random-{shape}",
        "architecture": "DebertaV2ForSequenceClassification",
        "ngram_weight": 0.0,
    }
    (out / "metadata.json").write_text(json.dumps(meta, indent=2))
    return out
