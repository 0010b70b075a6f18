"""The default models at CPU speed: their served runtime against the previous default, in one run.

The previous defaults were all six layers of MiniLM, served in float32 by eager PyTorch. The ceiling of a
model of that shape (random weights: throughput depends on the shape, not the values) is measured beside
the current defaults in float32 and bfloat16 PyTorch, ONNX Runtime and int8 ONNX Runtime (what ``--runtime auto``
serves on CPU, marked), all at the same email length; and the held-out quality of each, so a faster path is only
kept when its verdicts are. bfloat16 only where the CPU does it in hardware: elsewhere it is emulated through float32
at a tenth of float32's speed, which measures nothing a deployment would choose and took minutes of the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from devstack.bench.model import build_random_model, ceiling, load_for_bench
from ml_common.device import has_native_bf16, runtime_dtype
from ml_common.runtime import resolve_runtime
from serving_common.model_dir import read_metadata
from serving_common.pipeline import TextPipeline

# (runtime, PyTorch dtype, label): every way the model server can run a default on CPU.
CONFIGURATIONS = (
    ("torch", "float32", "float32 PyTorch"),
    ("torch", "bfloat16", "bfloat16 PyTorch"),
    ("onnx", "float32", "onnx"),
    ("onnx-int8", "float32", "onnx-int8"),
)
PREVIOUS_SHAPE = "minilm-l6"  # all six layers of all-MiniLM-L6-v2, the defaults before the e-mail corpus
NO_NATIVE_BF16 = "not run: this CPU has no bfloat16 arithmetic (AVX512-BF16 or AMX), so PyTorch emulates it"


def configurations() -> tuple[tuple[str, str, str], ...]:
    """The configurations worth measuring on this CPU: bfloat16 only where it is native."""
    import torch

    native = has_native_bf16(torch.device("cpu"))
    return tuple(c for c in CONFIGURATIONS if c[1] != "bfloat16" or native)


def served_label() -> str:
    """The configuration the model server's ``--runtime auto`` (and ``--dtype auto``) runs on this CPU."""
    import torch

    cpu = torch.device("cpu")
    runtime = resolve_runtime("auto", "cpu")
    dtype = runtime_dtype(runtime, "auto", cpu)
    return next(label for r, d, label in CONFIGURATIONS if r == runtime and runtime_dtype(r, d, cpu) == dtype)


def _label(label: str) -> str:
    return f"{label} (served)" if label == served_label() else label


def speed_rows(model_dirs: list[Path], email: str, out: Path, seconds: float, batch_sizes: list[int]) -> list[dict]:
    rows, measured = [], configurations()
    if len(measured) < len(CONFIGURATIONS):
        print(f"  bfloat16 PyTorch: {NO_NATIVE_BF16}", flush=True)
    for model_dir in model_dirs:
        previous = build_random_model(out / f"previous-{model_dir.name}", model_dir, PREVIOUS_SHAPE)
        before, before_batch, _ = ceiling(previous, email, batch_sizes, seconds, "torch", dtype="float32")
        rows.append(_row(model_dir.name, "previous default (6 layers), float32 PyTorch", before, before_batch, before))
        for runtime, dtype, label in measured:
            rate, batch, _ = ceiling(model_dir, email, batch_sizes, seconds, runtime, out / "onnx", dtype=dtype)
            rows.append(_row(model_dir.name, f"this default, {_label(label)}", rate, batch, before))
            row = rows[-1]
            print(f"  {row['model']}: {row['configuration']}: {rate:.1f}/s ({row['speedup']}x)", flush=True)
    return rows


def _row(model: str, configuration: str, rate: float, batch: int, before: float) -> dict:
    return {
        "model": model,
        "configuration": configuration,
        "sequences_per_s": round(rate, 1),
        "batch": batch,
        "speedup": round(rate / before, 2),
    }


def quality_rows(model_dirs: list[Path], out: Path) -> list[dict]:
    """Held-out quality of each runtime: spam on its test split (overall and per source), intent on the
    independent sets."""
    rows = []
    for model_dir in model_dirs:
        metadata = read_metadata(model_dir)
        for runtime, dtype, label in configurations():
            classifier = load_for_bench(model_dir, runtime, out / "onnx", dtype=dtype)
            figures = (
                _spam_quality(model_dir, classifier)
                if metadata.task == "spam"
                else _intent_quality(model_dir, classifier)
            )
            rows.append({"model": model_dir.name, "runtime": _label(label), **figures})
            print(f"  {model_dir.name} {_label(label)}: {figures}", flush=True)
    return rows


def _spam_quality(model_dir: Path, classifier) -> dict:  # type: ignore[no-untyped-def]
    from ml_common.splits import training_splits
    from model_training.evaluation import binary_metrics
    from model_training.spam import per_source

    metadata = read_metadata(model_dir)
    test = training_splits(model_dir, metadata).test
    pipeline = TextPipeline.from_model_dir(model_dir)
    verdicts = pipeline.run(classifier.infer, [e.text for e in test]).verdicts
    scores = np.array([pipeline.task.log_row(v).probability for v in verdicts])
    y = np.array([int(e.label == metadata.positive_label) for e in test])
    overall = binary_metrics(y, scores, metadata.threshold)
    figures = {"f1": round(overall["f1"], 4), "roc_auc": round(overall["roc_auc"], 4)}
    for source, m in per_source(test, scores, metadata.threshold).items():
        if "f1" in m:
            figures[f"{source}_f1"], figures[f"{source}_roc_auc"] = round(m["f1"], 4), round(m["roc_auc"], 4)
        else:
            figures[f"{source}_false_positives"] = f"{m['false_positives']}/{m['support']}"
    return figures


def _intent_quality(model_dir: Path, classifier) -> dict:  # type: ignore[no-untyped-def]
    from model_training.independent import INTENT_SETS, read_independent_intents, score_intent, set_name

    pipeline = TextPipeline.from_model_dir(model_dir)
    figures = {}
    for path in INTENT_SETS:
        rows = read_independent_intents(path)
        scored = score_intent(pipeline.run(classifier.infer, [r["text"] for r in rows]).verdicts, rows)
        name = Path(set_name(path)).stem
        figures[f"{name}_intent_accuracy"] = round(scored["intent_accuracy"], 4)
        figures[f"{name}_complexity_level_accuracy"] = round(scored["complexity_level_accuracy"], 4)
    return figures


def markdown(speed: list[dict], quality: list[dict], tokens: int) -> str:
    lines = [
        f"In-process ceiling at {tokens} tokens (best batch), against the previous default's shape in float32 PyTorch:",
        "",
        "| model | configuration | sequences/s | batch | x previous |",
        "|---|---|---|---|---|",
        *(
            f"| {r['model']} | {r['configuration']} | {r['sequences_per_s']} | {r['batch']} | {r['speedup']} |"
            for r in speed
        ),
        "",
        "Held-out quality by runtime:",
        "",
    ]
    for model in dict.fromkeys(r["model"] for r in quality):
        rows = [r for r in quality if r["model"] == model]
        keys = [k for k in rows[0] if k not in ("model", "runtime")]
        lines += [f"| {model} | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        lines += [f"| {r['runtime']} | " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
        lines.append("")
    return "\n".join(lines)
