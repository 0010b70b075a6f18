"""Choosing where and in which precision PyTorch runs the model (the runtime itself: :mod:`ml_common.runtime`)."""

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


def runtime_dtype(runtime: str, requested: str, device: torch.device) -> torch.dtype:
    """The precision PyTorch loads the model in for ``runtime``: ``requested`` (resolved) for PyTorch itself,
    float32 for the ONNX paths, which export from float32 (int8 quantizing that)."""
    return resolve_dtype(requested, device) if runtime == "torch" else torch.float32


def cpu_has_amx_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU multiplies bf16 matrices in AMX tiles (Intel Xeon from Sapphire Rapids on), by the kernel's
    CPU flags. There PyTorch's bf16 passes run 3.4-3.5x float32's with float32's held-out figures; on a CPU
    without AMX (AVX-512 BF16 alone, as on AMD EPYC) 2.45x (docs/benchmarks.md)."""
    return "amx_bf16" in cpu_flags(cpuinfo)


def has_native_bf16(device: torch.device, cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether ``device`` does bf16 arithmetic in hardware: a GPU from Ampere on, a CPU with AVX512-BF16 or AMX.
    Elsewhere bf16 is emulated through float32 and runs at a fraction of float32's speed (0.1-0.2x on an
    AVX2-only AMD EPYC: docs/benchmarks.md)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags(cpuinfo))


@functools.cache
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags as the Linux kernel lists them (empty elsewhere)."""
    try:
        text = cpuinfo.read_text()
    except OSError:  # not Linux, or no /proc: no AMX assumed
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()
