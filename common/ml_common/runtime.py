"""Which runtime serves a model, and the model loaded for it, without importing PyTorch where it does not run.

On a CPU the model server runs int8 ONNX Runtime, and a process that imports PyTorch holds about half a GiB more
for it (``import torch`` alone: 513 MiB resident on the 2-core VM, docs/benchmarks.md). So this module, the
:class:`Classifier` protocol and :mod:`ml_common.onnx_runtime` import no PyTorch: it is imported where it runs the
model (``--runtime torch``), where the driver shows a GPU it may use, and in the child process that exports the
ONNX graphs not cached yet (:mod:`ml_common.onnx_export`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ml_common.onnx_runtime import OnnxClassifier, export_missing
from ml_common.shape_buckets import ShapeBuckets
from serving_common.cpu import cpu_cores
from serving_common.embedding import Projection
from serving_common.model_dir import ModelMetadata

if TYPE_CHECKING:
    from ml_common.classifier import LaunchedPass

RUNTIMES = ("auto", "torch", "onnx", "onnx-int8")


class Classifier(Protocol):
    """A loaded model: PyTorch (:class:`~ml_common.classifier.SequenceClassifier`) or ONNX Runtime
    (:class:`~ml_common.onnx_runtime.OnnxClassifier`). What the model server, the baseline generator and the
    bench ask of it."""

    metadata: ModelMetadata
    projection: Projection
    on_gpu: bool
    vocab_size: int
    num_outputs: int
    compiled: bool

    def infer(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits [batch, outputs], embedding [batch, EMBEDDING_DIM]) from one forward pass."""
        ...

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...

    def warm_up(self, batch_size: int, length: int = 16) -> None: ...


@runtime_checkable
class PipelinedClassifier(Classifier, Protocol):
    """What PyTorch adds: passes launched and collected apart (overlapped on a GPU) and static shapes (CUDA
    graphs). The model server asks a classifier for them by this protocol, so it needs no PyTorch to serve
    one that has neither."""

    static_shapes: Any

    def use_static_shapes(self, buckets: ShapeBuckets) -> None: ...

    def use_dynamic_shapes(self) -> None: ...

    def launch(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> LaunchedPass: ...

    def collect(self, launched: LaunchedPass) -> tuple[np.ndarray, np.ndarray]: ...


def gpu_visible(devices: Path = Path("/dev")) -> bool:
    """Whether PyTorch would run on a CUDA device here. Without an NVIDIA device node (``/dev/nvidia0``...) it
    cannot, and PyTorch is not imported to say so; with one, PyTorch is asked (its build may be the CPU one)."""
    if not any(devices.glob("nvidia[0-9]*")):
        return False
    import torch  # only where a GPU may be used

    return bool(torch.cuda.is_available())


def resolve_runtime(requested: str, device: str, compile_model: bool = False) -> str:
    """``auto`` made concrete: int8 ONNX Runtime on CPU, PyTorch on a GPU or when compiling. The model
    server and the baseline generator resolve it alike, so baselines are computed as the model is served.

    Not PyTorch in bf16 on a CPU with AMX, though 1.3x faster in-process there: through the model server on a
    2-core VM it served no more requests/s than int8, a quarter fewer at worst (docs/benchmarks.md); ``--runtime
    torch`` chooses it."""
    if requested != "auto":
        return requested
    if compile_model or device == "cuda" or (device == "auto" and gpu_visible()):
        return "torch"
    return "onnx-int8"


def prepare_runtime(model_dirs: Sequence[str | Path], runtime: str, onnx_cache_dir: str | Path) -> None:
    """What a runtime needs made before its models load: for the ONNX paths, the graphs not cached yet, exported
    in one child process for all the models (importing PyTorch and transformers, 2.7 s on the 2-core VM, paid
    once)."""
    if runtime.startswith("onnx"):
        export_missing(model_dirs, onnx_cache_dir, int8=runtime == "onnx-int8")


def load_classifier(
    model_dir: str | Path,
    runtime: str,
    onnx_cache_dir: str | Path,
    *,
    device: str = "auto",
    dtype: str = "auto",
    threads: int | None = None,
    compile_model: bool = False,
    spinning: bool = True,
) -> Classifier:
    """A model directory loaded for a concrete runtime (:func:`resolve_runtime`). PyTorch: on ``device`` in
    ``dtype`` (both resolved as :mod:`ml_common.device` resolves them) with ``threads`` (default: the cores this
    process may use), compiled if asked. The ONNX paths: the graph exported from the directory's weights, cached
    in ``onnx_cache_dir``, run by ONNX Runtime on the CPU. Every failure to read the directory is a
    :class:`~serving_common.errors.ModelDirectoryError` naming the file."""
    if runtime == "torch":
        import torch  # imported where it runs the model

        from ml_common.classifier import SequenceClassifier
        from ml_common.device import resolve_device, resolve_dtype

        # Torch's own default is every core of the machine, a container's CPU limit ignored: a predictor limited to
        # 2 CPUs on a 64-core node would run 32 threads on 2 cores (on a CPU).
        torch.set_num_threads(threads or cpu_cores())
        torch_device = resolve_device(device)
        classifier = SequenceClassifier.load(model_dir, torch_device, resolve_dtype(dtype, torch_device))
        if compile_model:
            classifier.compile()
        return classifier
    return OnnxClassifier.open(model_dir, onnx_cache_dir, threads, int8=runtime == "onnx-int8", spinning=spinning)
