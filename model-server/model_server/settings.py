"""Model-server settings: environment (``MODEL_SERVER_*``) overridden by command-line flags
(:func:`serving_common.settings.load_settings`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from serving_common.kserve_server import KServeComponentSettings


class ModelServerSettings(KServeComponentSettings):
    model_config = SettingsConfigDict(env_prefix="MODEL_SERVER_", extra="ignore", frozen=True)

    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="'auto' takes CUDA when a GPU is visible, else the CPU."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto",
        description="'auto' is bfloat16 on a GPU and on a CPU with AMX (Intel Xeon from Sapphire Rapids on), "
        "float32 on other CPUs.",
    )
    torch_threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads: torch's intra-op threads, ONNX Runtime float32's, and int8's rows run at once; "
        "default: the cores the process may use (a container's CPU limit counted).",
    )
    ort_spinning: bool = Field(
        default=True,
        description="float32 ONNX Runtime's idle intra-op threads spin for the next pass (its default); off leaves "
        "the CPU to the processes beside the server when its model costs little (docs/benchmarks.md). int8 runs "
        "each row on one thread, with no intra-op pool to spin.",
    )
    warmup_batch_size: int = Field(default=2, ge=1, description="Batch size of the warm-up pass run before ready.")
    batching: bool = Field(
        default=True, description="Gather concurrent requests into one forward pass (off: one pass per request)."
    )
    max_batch_size: int | None = Field(
        default=None, ge=1, description="Most rows (texts) in one forward pass; default 128 on a GPU, 32 on the CPU."
    )
    max_batch_tokens: int | None = Field(
        default=None,
        ge=1,
        description="Most padded tokens (rows x longest sequence) in one forward pass: long texts make smaller "
        "batches, so a pass's cost and memory stay bounded (a larger request runs as several passes); default "
        "16,384 on a GPU (128 rows of 128 tokens), 8,192 on the CPU.",
    )
    pipeline_depth: int = Field(
        default=2,
        ge=1,
        description="PyTorch runtime: forward passes launched and not yet collected. At 2 the next batch is "
        "padded and copied to the GPU (pinned memory, a stream of its own) while the current one runs; 1 runs a "
        "pass at a time. ONNX Runtime's passes run one at a time.",
    )
    static_shapes: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Run every batch in the smallest of a grid of (rows, length) shapes, padded, each captured "
        "as a CUDA graph on the serving thread before ready (ml_common/static_shapes.py). 'auto': on for "
        "PyTorch on a GPU without compile. On the CPU 'on' pads without graphs (for tests).",
    )
    max_batch_wait_ms: float = Field(
        default=5.0,
        ge=0,
        description="Longest a request waits for others to join its batch, in milliseconds (only with "
        "batch_when_idle off: otherwise an idle model starts at once and the next batch fills during the pass).",
    )
    batch_when_idle: bool = Field(
        default=True,
        description="Start a batch at once when no forward pass is running (a lone request waits for nothing; "
        "under load, requests gather while the current pass runs). Off: MLServer's rule, every batch waits up "
        "to max_batch_wait_ms to fill.",
    )
    max_queue_rows: int = Field(
        default=512, ge=1, description="Rows allowed to wait; past this, requests get 503 with Retry-After at once."
    )
    compile: bool = Field(
        default=False,
        description="torch.compile the model (dynamic shapes), warmed up at batch 1, 2 and max_batch_size before "
        "ready. Pays on GPUs; on CPU it adds about a minute of start-up for ~1.2x.",
    )
    runtime: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        default="auto",
        description="'onnx': export the model at load and run it with ONNX Runtime (CPU; 1.1-1.5x eager PyTorch, "
        "same verdicts); 'onnx-int8': the same with its matrix weights quantized to int8, each row run alone so that "
        "no text's verdict depends on its batch (CPU; 1.6-1.8x 'onnx' on the defaults, held-out quality in make "
        "bench); 'torch': eager PyTorch (GPU, or compile; on a CPU with AMX, bfloat16 by dtype 'auto'). 'auto': "
        "'onnx-int8' on CPU, 'torch' on a GPU or with compile.",
    )
    onnx_cache_dir: str = Field(
        default="/tmp/textserve-onnx",
        description="Where the exported ONNX graphs are kept, named by a digest of the model's files (needs room for "
        "the float32 graph and its int8 twin: 132 MB for the spam default).",
    )

    def for_device(self, gpu: bool) -> ModelServerSettings:
        """These settings with the defaults that depend on the device made concrete (batch limits, static
        shapes), for a model that runs on a GPU or not."""
        return self.model_copy(
            update={
                "max_batch_size": self.max_batch_size or (128 if gpu else 32),
                "max_batch_tokens": self.max_batch_tokens or (16384 if gpu else 8192),
                "static_shapes": self.static_shapes
                if self.static_shapes != "auto"
                else ("on" if gpu and self.runtime in ("auto", "torch") and not self.compile else "off"),
            }
        )

    @property
    def batch_rows(self) -> int:
        assert self.max_batch_size is not None, "settings not made concrete by for_device"
        return self.max_batch_size

    @property
    def batch_tokens(self) -> int:
        assert self.max_batch_tokens is not None, "settings not made concrete by for_device"
        return self.max_batch_tokens

    @model_validator(mode="after")
    def _onnx_runs_on_cpu(self) -> ModelServerSettings:
        if self.static_shapes == "on" and (self.compile or self.runtime.startswith("onnx")):
            raise ValueError("static shapes are a PyTorch eager path: not with compile or an ONNX runtime")
        if self.runtime.startswith("onnx") and self.device == "cuda":
            raise ValueError(f"runtime '{self.runtime}' is the CPU path; use runtime 'torch' on a GPU")
        if self.runtime.startswith("onnx") and self.compile:
            raise ValueError("compile applies to runtime 'torch'; ONNX Runtime optimises its own graph")
        if self.workers != 1:
            raise ValueError(
                "workers must be 1: one process owns the model and its batch queue (more processes would hold "
                "more copies of the weights and split the batches); scale with replicas"
            )
        return self
