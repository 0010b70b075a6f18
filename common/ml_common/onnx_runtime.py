"""The ONNX Runtime CPU path: the same model, exported at load time, run by ONNX Runtime.

On CPU, ONNX Runtime runs DeBERTa-v2 models faster than eager PyTorch (1.1-1.8x by model) with
identical verdicts (docs/benchmarks.md), so ``--runtime onnx`` offers it; ``--runtime onnx-int8`` also
quantizes the weights of its matrix products to int8 (ONNX Runtime's dynamic quantization: activations
quantized per call at run time, so each row runs alone), faster again on CPUs with 8-bit dot products
(VNNI), at held-out quality make bench reports. The exported graph returns
both outputs the server needs from one pass: the logits and the pooled hidden state the embedding
is projected from. It is exported from the loaded PyTorch model, so there is one model directory
format and the ONNX file is a cache, never a second artefact to keep in sync.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.jit._trace import TracerWarning

from ml_common.classifier import Classifier, LogitsAndPooled, SequenceClassifier
from serving_common.cpu import cpu_cores

log = logging.getLogger(__name__)
OPSET = 17


class OnnxClassifier:
    """Same interface as :class:`SequenceClassifier` (``infer``, ``forward``, ``warm_up``)."""

    def __init__(
        self, session: Any, source: SequenceClassifier, *, row_by_row: bool = False, row_workers: int = 1
    ) -> None:
        self.session = session
        self.metadata = source.metadata
        self.projection = source.projection
        self.vocab_size = source.vocab_size
        self.num_outputs = source.num_outputs
        self.device = torch.device("cpu")
        self.compiled = False
        # int8: dynamic quantization scales activations per call, so a batched row's numbers would depend on
        # the rows beside it (a spam probability moved by up to 0.157, one verdict in 600 flipped; docs/models.md,
        # "Serving the defaults at CPU speed"). Rows run one at a time instead, ``row_workers`` of them at once
        # (each single-threaded: one row is too small a pass to split across cores).
        self.row_by_row = row_by_row
        self.row_workers = row_workers
        self._rows = ThreadPoolExecutor(row_workers, "onnx-rows") if row_by_row and row_workers > 1 else None

    @classmethod
    def export(
        cls,
        source: SequenceClassifier,
        cache_dir: str | Path,
        threads: int | None = None,
        *,
        int8: bool = False,
        spinning: bool = True,
    ) -> OnnxClassifier:
        """``threads``: the cores to use (default: :func:`~serving_common.cpu.cpu_cores`). fp32 splits each pass across
        them (intra-op threads); int8 runs that many rows at once, each on one thread: on 2 cores the default
        spam model serves 1.9x the rows of one row at a time over two intra-op threads (docs/benchmarks.md)."""
        import onnxruntime as ort

        path = _export(source, Path(cache_dir) / f"{source.metadata.name}-{source.metadata.version}.onnx")
        if int8:
            path = _quantized(path)
        cores = threads or cpu_cores()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1 if int8 else cores
        # Spinning, idle intra-op threads wait for the next pass busily: the default model gains 8-11 % through
        # the full path on 2 cores; a model that costs almost nothing loses most of the CPU of its server to
        # the spin (docs/benchmarks.md, "The platform's own cost per request").
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return cls(session, source, row_by_row=int8, row_workers=cores)

    def infer(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.row_by_row:
            logits, pooled = self._run(input_ids, attention_mask)
            return logits, self.projection.apply(pooled)
        # Each row alone, cut to its own tokens (padding is on the right): what it is batched with never
        # changes its numbers. Rows are dealt round-robin to the workers and put back in order.
        n = input_ids.shape[0]
        lengths = np.maximum(attention_mask.sum(axis=1), 1)

        def run(indices: range) -> list[tuple[np.ndarray, np.ndarray]]:
            return [
                self._run(input_ids[i : i + 1, : lengths[i]], attention_mask[i : i + 1, : lengths[i]]) for i in indices
            ]

        if self._rows is None or n == 1:
            rows = run(range(n))
        else:
            shares = [range(k, n, self.row_workers) for k in range(min(self.row_workers, n))]
            rows = [None] * n  # type: ignore[list-item]
            for share, results in zip(shares, self._rows.map(run, shares), strict=True):
                for i, result in zip(share, results, strict=True):
                    rows[i] = result
        return np.concatenate([r[0] for r in rows]), self.projection.apply(np.concatenate([r[1] for r in rows]))

    def _run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, pooled = self.session.run(
            ["logits", "pooled"],
            {
                "input_ids": np.ascontiguousarray(input_ids, dtype=np.int64),
                "attention_mask": np.ascontiguousarray(attention_mask, dtype=np.int64),
            },
        )
        return logits.astype(np.float32), pooled

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.infer(input_ids, attention_mask)[0]

    def warm_up(self, batch_size: int, length: int = 16) -> None:
        ids = np.ones((batch_size, length), dtype=np.int64)
        self.forward(ids, np.ones_like(ids))


def for_runtime(
    classifier: SequenceClassifier,
    runtime: str,
    cache_dir: str | Path,
    threads: int | None = None,
    *,
    spinning: bool = True,
) -> Classifier:
    """The loaded model as a concrete runtime runs it: itself for ``torch``, else its ONNX (or int8) export."""
    if runtime == "torch":
        return classifier
    return OnnxClassifier.export(classifier, cache_dir, threads, int8=runtime == "onnx-int8", spinning=spinning)


def _export(source: SequenceClassifier, path: Path) -> Path:
    """The model as an fp32 ONNX graph at ``path`` (kept: a cache keyed by name and version)."""
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
    return path


def _quantized(path: Path) -> Path:
    """The int8 twin of an fp32 ONNX graph (dynamic quantization of its MatMul weights), cached beside it.

    Weights are scaled per output channel, not per tensor: on the spam default's validation split, float32's
    probability moved by 0.028 at the 99th percentile and one verdict of 1,045 flipped, against 0.211 and 8
    per tensor, at the same speed (docs/models.md). The file name says so, so a per-tensor cache written
    before is never taken for it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = path.with_suffix(".int8-per-channel.onnx")
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
    return target


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
