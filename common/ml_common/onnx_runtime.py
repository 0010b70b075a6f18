"""The ONNX Runtime CPU path: a model directory's classifier as an ONNX graph, run by ONNX Runtime.

On CPU, ONNX Runtime runs DeBERTa-v2 models faster than eager PyTorch (1.1-1.8x by model) with
identical verdicts (docs/benchmarks.md), so ``--runtime onnx`` offers it; ``--runtime onnx-int8`` also
quantizes the weights of its matrix products to int8 (ONNX Runtime's dynamic quantization: activations
quantized per call at run time, so each row runs alone), faster again on CPUs with 8-bit dot products
(VNNI), at held-out quality make bench reports. The exported graph returns
both outputs the server needs from one pass: the logits and the pooled hidden state the embedding
is projected from.

The graph is exported from the directory's PyTorch weights, so there is one model directory format and the ONNX
file is a cache, never a second artefact to keep in sync: it is named by a digest of the files it is made from and
of the versions of the libraries that make it, so a changed model or library is never served from a stale graph.
This module imports no PyTorch: a graph not yet cached is exported by :mod:`ml_common.onnx_export` in a child
process, and the serving process holds ONNX Runtime and the graph alone (:mod:`ml_common.runtime`).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import logging
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from importlib import metadata as packages
from pathlib import Path
from typing import Any

import numpy as np

from serving_common.cpu import cpu_cores
from serving_common.embedding import Projection
from serving_common.errors import ModelDirectoryError
from serving_common.model_dir import CONFIG_FILE, METADATA_FILE, WEIGHTS_FILE, ModelMetadata, validate_model_dir

log = logging.getLogger(__name__)
OPSET = 17
# What the graph is made from: the directory's files, and the libraries that export and quantize it.
_GRAPH_SOURCES = (METADATA_FILE, CONFIG_FILE, WEIGHTS_FILE)
_GRAPH_MAKERS = ("torch", "transformers", "onnx", "onnxruntime")
# The export's exit status when the model directory is at fault; its one line on stdout says how.
MODEL_DIRECTORY_INVALID = 3


class OnnxClassifier:
    """Same interface as :class:`~ml_common.classifier.SequenceClassifier` (``infer``, ``forward``, ``warm_up``)."""

    on_gpu = False
    compiled = False

    def __init__(
        self, session: Any, metadata: ModelMetadata, vocab_size: int, *, row_by_row: bool = False, row_workers: int = 1
    ) -> None:
        self.session = session
        self.metadata = metadata
        self.vocab_size = vocab_size
        self.num_outputs = metadata.num_outputs
        pooled_size = session.get_outputs()[1].shape[-1]
        self.projection = Projection.for_model(metadata.version, int(pooled_size))
        # int8: dynamic quantization scales activations per call, so a batched row's numbers would depend on
        # the rows beside it (a spam probability moved by up to 0.157, one verdict in 600 flipped; docs/models.md,
        # "Serving the defaults at CPU speed"). Rows run one at a time instead, ``row_workers`` of them at once
        # (each single-threaded: one row is too small a pass to split across cores).
        self.row_by_row = row_by_row
        self.row_workers = row_workers
        self._rows = ThreadPoolExecutor(row_workers, "onnx-rows") if row_by_row and row_workers > 1 else None

    @classmethod
    def open(
        cls,
        model_dir: str | Path,
        cache_dir: str | Path,
        threads: int | None = None,
        *,
        int8: bool = False,
        spinning: bool = True,
    ) -> OnnxClassifier:
        """The directory's model run by ONNX Runtime, its graph exported first if not cached. ``threads``: the
        cores to use (default: :func:`~serving_common.cpu.cpu_cores`). fp32 splits each pass across them
        (intra-op threads); int8 runs that many rows at once, each on one thread: on 2 cores the default spam
        model serves 1.9x the rows of one row at a time over two intra-op threads (docs/benchmarks.md)."""
        import onnxruntime as ort

        root = Path(model_dir)
        metadata = validate_model_dir(root)
        config = json.loads((root / CONFIG_FILE).read_text(encoding="utf-8"))
        fp32, quantized = graph_paths(root, metadata, cache_dir)
        path = quantized if int8 else fp32
        _export_where_missing({root: path}, Path(cache_dir), int8)
        cores = threads or cpu_cores()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1 if int8 else cores
        # Spinning, idle intra-op threads wait for the next pass busily: the default model gains 8-11 % through
        # the full path on 2 cores; a model that costs almost nothing loses most of the CPU of its server to
        # the spin (docs/benchmarks.md, "The platform's own cost per request").
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        log.info(
            "loaded %s %s as ONNX Runtime %s: %s", metadata.name, metadata.version, "int8" if int8 else "fp32", path
        )
        return cls(session, metadata, int(config.get("vocab_size") or 0), row_by_row=int8, row_workers=cores)

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


def graph_paths(model_dir: Path, metadata: ModelMetadata, cache_dir: str | Path) -> tuple[Path, Path]:
    """Where the directory's fp32 graph and its int8 twin are cached: named by the model and a digest of the files
    the graph is made from and of the exporting libraries' versions. Weights are scaled per output channel, not
    per tensor, and the int8 file name says so (:mod:`ml_common.onnx_export`)."""
    stats = [(model_dir / name).stat() for name in _GRAPH_SOURCES]
    stamp = tuple((name, st.st_size, st.st_mtime_ns) for name, st in zip(_GRAPH_SOURCES, stats, strict=True))
    stem = f"{metadata.name}-{metadata.version}-{_digest(model_dir.resolve(), stamp)}"
    return Path(cache_dir) / f"{stem}.onnx", Path(cache_dir) / f"{stem}.int8-per-channel.onnx"


@functools.lru_cache(maxsize=32)
def _digest(model_dir: Path, stamp: tuple[tuple[str, int, int], ...]) -> str:
    """The digest of :func:`graph_paths`, read once per directory and state of its files (``stamp``: each one's size
    and modification time): a server asks for it when it looks for the graphs to export and again as each model
    loads (0.1 s per default model on 2 cores)."""
    digest = hashlib.sha256(f"opset {OPSET}".encode())
    for package in _GRAPH_MAKERS:
        digest.update(f"{package} {_version(package)}".encode())
    for name, _, _ in stamp:
        digest.update(name.encode())
        with (model_dir / name).open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def _version(package: str) -> str:
    try:
        return packages.version(package)
    except packages.PackageNotFoundError:
        return "absent"


def export_missing(model_dirs: Sequence[str | Path], cache_dir: str | Path, *, int8: bool) -> None:
    """Export the graphs of those directories not cached yet, all in one child process: a server of several models
    starts PyTorch once, not once a model. Processes sharing the cache export one at a time, and each exports only
    what is still missing when its turn comes: ``make run``'s two predictors, started together on an empty cache,
    export the defaults once, not twice. Raises :class:`~serving_common.errors.ModelDirectoryError` naming the file
    at fault."""
    graphs = {}
    for model_dir in map(Path, model_dirs):
        fp32, quantized = graph_paths(model_dir, validate_model_dir(model_dir), cache_dir)
        graphs[model_dir] = quantized if int8 else fp32
    _export_where_missing(graphs, Path(cache_dir), int8)


def _export_where_missing(graphs: dict[Path, Path], cache_dir: Path, int8: bool) -> None:
    """Export the graphs (by model directory) not in the cache, in this process's turn."""
    if all(graph.exists() for graph in graphs.values()):
        return  # every graph cached: no lock taken, so a read-only cache serves
    with _export_turn(cache_dir, list(graphs)):
        missing = [model_dir for model_dir, graph in graphs.items() if not graph.exists()]
        if missing:
            _export_in_child(missing, cache_dir, int8)


@contextmanager
def _export_turn(cache_dir: Path, model_dirs: list[Path]) -> Iterator[None]:
    """This process's turn to export into ``cache_dir``: an exclusive lock on a file there, which the kernel lets go
    of when its holder exits, however it exits."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle = (cache_dir / ".export.lock").open("a")
    except OSError as exc:
        exported = ", ".join(map(str, model_dirs))
        raise RuntimeError(
            f"exporting {exported} to ONNX failed: the cache {cache_dir} is not writable: {exc}"
        ) from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process exporting to %s", cache_dir)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file lets go of the lock


def _export_in_child(model_dirs: list[Path], cache_dir: Path, int8: bool) -> None:
    """Export (and quantize) the directories' graphs in a child process, which imports PyTorch and exits: this one
    never holds it. The child's log lines go to this process's stderr; a fault of a directory is raised here as
    the child found it."""
    command = [sys.executable, "-m", "ml_common.onnx_export", str(cache_dir), *map(str, model_dirs)]
    child = subprocess.run([*command, *(["--int8"] if int8 else [])], stdout=subprocess.PIPE, text=True, check=False)
    if child.returncode == MODEL_DIRECTORY_INVALID:
        fault = json.loads(child.stdout.strip().splitlines()[-1])
        raise ModelDirectoryError(fault["path"], fault["problem"])
    if child.returncode != 0:
        exported = ", ".join(map(str, model_dirs))
        raise RuntimeError(f"exporting {exported} to ONNX failed (exit status {child.returncode}; its log is above)")
