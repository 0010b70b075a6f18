"""A model directory's classifier exported to an ONNX graph, and its int8 twin, for :mod:`ml_common.onnx_runtime`.

The model server runs this in a child process for the models whose graphs are not cached yet
(``python -m ml_common.onnx_export CACHE_DIR MODEL_DIR... [--int8]``), so that PyTorch, which the export needs, is
never imported by the process that serves. Exit status 0: the graphs are in the cache; 3: a model directory is at
fault, and the last line on stdout is ``{"path": ..., "problem": ...}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.jit._trace import TracerWarning

from ml_common.classifier import LogitsAndPooled, SequenceClassifier
from ml_common.onnx_runtime import MODEL_DIRECTORY_INVALID, OPSET, graph_paths
from serving_common.cpu import cpu_cores
from serving_common.errors import ModelDirectoryError
from serving_common.model_dir import validate_model_dir

log = logging.getLogger("ml_common.onnx_export")  # its name also when run as __main__


def export_graphs(model_dir: str | Path, cache_dir: str | Path, *, int8: bool) -> Path:
    """The directory's fp32 graph in ``cache_dir`` (and its int8 twin, which is returned, with ``int8``): each made
    unless already there. Raises :class:`~serving_common.errors.ModelDirectoryError` naming the file at fault."""
    root = Path(model_dir)
    fp32, quantized = graph_paths(root, validate_model_dir(root), cache_dir)
    if not fp32.exists():
        _export(SequenceClassifier.load(root, torch.device("cpu"), torch.float32), fp32)
    if not int8:
        return fp32
    _quantize(fp32, quantized)
    return quantized


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml_common.onnx_export", description=__doc__)
    parser.add_argument("cache_dir")
    parser.add_argument("model_dirs", nargs="+")
    parser.add_argument("--int8", action="store_true", help="quantize the graph to int8 too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s [-] %(message)s")
    # Torch's own default is every core of the machine, a container's CPU limit ignored.
    torch.set_num_threads(cpu_cores())
    try:
        for model_dir in args.model_dirs:
            export_graphs(model_dir, args.cache_dir, int8=args.int8)
    except ModelDirectoryError as exc:
        print(json.dumps({"path": exc.path, "problem": exc.problem}))
        return MODEL_DIRECTORY_INVALID
    return 0


def _export(source: SequenceClassifier, path: Path) -> None:
    """The model as an fp32 ONNX graph at ``path``."""
    if not path.exists():
        started = time.perf_counter()
        path.parent.mkdir(parents=True, exist_ok=True)
        wrapper = LogitsAndPooled(source.model.float().cpu()).eval()  # type: ignore[no-untyped-call]
        example = (torch.ones((2, 8), dtype=torch.int64), torch.ones((2, 8), dtype=torch.int64))
        tmp = path.with_suffix(f".{os.getpid()}.partial")  # replicas exporting at once never collide
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            # Shape checks in the model's Python code; the exported graph keeps shapes dynamic
            # (tests/ml_common/test_onnx_runtime.py compares it with PyTorch across batch and length).
            warnings.simplefilter("ignore", TracerWarning)
            # PyTorch's notice that this TorchScript exporter is deprecated: a library's warning, hidden when this
            # ran inside the server; shown by Python's defaults now that it runs as __main__ of the export's child.
            warnings.filterwarnings(
                "ignore", "You are using the legacy TorchScript-based ONNX export", DeprecationWarning
            )
            torch.onnx.export(
                wrapper,
                example,
                str(tmp),
                input_names=["input_ids", "attention_mask"],
                output_names=["logits", "pooled"],
                dynamic_axes={name: {0: "batch", 1: "sequence"} for name in ("input_ids", "attention_mask")},
                opset_version=OPSET,
                dynamo=False,
            )
        tmp.rename(path)
        log.info("exported %s to ONNX in %.1f s: %s", source.metadata.name, time.perf_counter() - started, path)


def _quantize(path: Path, target: Path) -> None:
    """The int8 twin of an fp32 ONNX graph (dynamic quantization of its MatMul weights) at ``target``.

    Weights are scaled per output channel, not per tensor: on the spam default's validation split, float32's
    probability moved by 0.028 at the 99th percentile and one verdict of 1,045 flipped, against 0.211 and 8
    per tensor, at the same speed (docs/models.md). The file name says so, so a per-tensor cache written
    before is never taken for it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if not target.exists():
        started = time.perf_counter()
        # In a directory of this process's own: quantize_dynamic writes a shape-inferred copy beside its
        # input under a fixed name, which replicas quantizing at once would overwrite under each other.
        with tempfile.TemporaryDirectory(dir=path.parent) as own:
            source = Path(own) / path.name
            os.link(path, source)
            quantized = Path(own) / target.name
            with _quiet_quantizer():
                quantize_dynamic(
                    str(source),
                    str(quantized),
                    weight_type=QuantType.QInt8,
                    op_types_to_quantize=["MatMul"],
                    per_channel=True,
                )
            quantized.rename(target)
        log.info("quantized %s to int8 in %.1f s", path.name, time.perf_counter() - started)


@contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """ONNX Runtime's quantizer reports every tensor it leaves alone at INFO through the root logger (dozens of
    lines a model, in every server's log at start-up), and advises pre-processing the graph first
    (``quant_pre_process``: its symbolic shape inference fails on these graphs, and without it the quantized
    graph gives the same logits at the same speed, docs/benchmarks.md): while it runs, those records are
    dropped; any other warning it gives is kept."""

    def keep(record: logging.LogRecord) -> bool:
        if f"onnxruntime{os.sep}quantization" not in record.pathname:
            return True
        return record.levelno >= logging.WARNING and not record.getMessage().startswith("Please consider")

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


if __name__ == "__main__":
    sys.exit(main())
