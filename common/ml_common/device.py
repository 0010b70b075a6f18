"""Choosing where and in which precision the model runs."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but no CUDA device is visible")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def resolve_dtype(requested: str, device: torch.device) -> torch.dtype:
    """``auto``: bf16 where the hardware has bf16 matrix units (a GPU's tensor cores, a CPU's AMX tiles), fp32 on
    other CPUs."""
    if requested == "auto":
        return torch.bfloat16 if device.type == "cuda" or cpu_has_amx_bf16() else torch.float32
    return _DTYPES[requested]


def cpu_has_amx_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU multiplies bf16 matrices in AMX tiles (Intel Xeon from Sapphire Rapids on), by the kernel's
    CPU flags. There PyTorch's bf16 passes outrun int8 ONNX Runtime and stay closer to float32; on a CPU without
    AMX (AVX-512 BF16 alone, as on AMD EPYC) they do not (docs/benchmarks.md)."""
    return "amx_bf16" in _cpu_flags(cpuinfo)


@functools.cache
def _cpu_flags(cpuinfo: Path) -> frozenset[str]:
    try:
        text = cpuinfo.read_text()
    except OSError:  # not Linux, or no /proc: no AMX assumed
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


RUNTIMES = ("auto", "torch", "onnx", "onnx-int8")


def runtime_device(runtime: str, requested: str) -> torch.device:
    """Where a concrete runtime runs: the ONNX paths on the CPU, PyTorch on the requested device."""
    return resolve_device("cpu" if runtime != "torch" else requested)


# Below this hidden size a pass is too small for AMX's tiles to pay for eager PyTorch's fixed cost per call: a
# one-layer model of width 32 answers one row in 1.0 ms in bf16 PyTorch against 0.2 ms in int8 ONNX Runtime, where
# the defaults (width 384) run batches 1.3x faster in bf16 (docs/benchmarks.md).
AMX_MIN_WIDTH = 256


def resolve_runtime(requested: str, device: str, compile_model: bool = False, width: int | None = None) -> str:
    """``auto`` made concrete: PyTorch on a GPU, when compiling, or on a CPU with AMX for a model at least
    :data:`AMX_MIN_WIDTH` wide (``width``: its hidden size; in bf16, by :func:`resolve_dtype`); int8 ONNX Runtime
    otherwise. The model server and the baseline generator resolve it alike, so baselines are computed as the
    model is served."""
    if requested != "auto":
        return requested
    if compile_model or resolve_device(device).type == "cuda":
        return "torch"
    if cpu_has_amx_bf16() and (width is None or width >= AMX_MIN_WIDTH):
        return "torch"
    return "onnx-int8"
