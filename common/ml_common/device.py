"""Choosing where and in which precision the model runs."""

from __future__ import annotations

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
