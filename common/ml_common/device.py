"""Choosing where and in which precision the model runs."""

from __future__ import annotations

import math
import os
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
    """bf16 on GPU (Hopper/Ampere run it at full tensor-core speed), fp32 on CPU unless asked otherwise."""
    if requested == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return _DTYPES[requested]


RUNTIMES = ("auto", "torch", "onnx", "onnx-int8")


def runtime_device(runtime: str, requested: str) -> torch.device:
    """Where a concrete runtime runs: the ONNX paths on the CPU, PyTorch on the requested device."""
    return resolve_device("cpu" if runtime != "torch" else requested)


def resolve_runtime(requested: str, device: str, compile_model: bool = False) -> str:
    """``auto`` made concrete: int8 ONNX Runtime on CPU, PyTorch on a GPU or when compiling. The model
    server and the baseline generator resolve it alike, so baselines are computed as the model is served."""
    if requested != "auto":
        return requested
    return "torch" if compile_model or resolve_device(device).type == "cuda" else "onnx-int8"


def cpu_cores(cgroup_cpu_max: str = "/sys/fs/cgroup/cpu.max") -> int:
    """The CPU cores this process may use: those it may run on, fewer under a cgroup (v2) CPU quota, as a
    container's CPU limit sets (a pod limited to 2 CPUs on a 64-core node gets 2)."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = Path(cgroup_cpu_max).read_text(encoding="ascii").split()
    except (OSError, ValueError):
        return cores
    if quota == "max":
        return cores
    return max(1, min(cores, math.ceil(int(quota) / int(period))))
