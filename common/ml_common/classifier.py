"""The model itself, in PyTorch: a sequence classifier loaded from a model directory (a
:class:`~ml_common.runtime.Classifier`; :mod:`ml_common.onnx_runtime` is the other).

It knows nothing about HTTP, KServe, batching or logging; those wrap it. ``infer`` takes token
ids and an attention mask and returns float32 logits and, from the same pass, the input's embedding
(the pooled hidden state the head reads, randomly projected: see :mod:`serving_common.embedding`).
On GPU it runs in bf16 under ``torch.inference_mode``, optionally ``torch.compile``d.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel

from ml_common.shape_buckets import ShapeBuckets
from ml_common.static_shapes import StaticShapeRunner
from serving_common.embedding import Projection
from serving_common.errors import ModelDirectoryError
from serving_common.model_dir import CONFIG_FILE, WEIGHTS_FILE, ModelMetadata, validate_model_dir

log = logging.getLogger(__name__)


class LogitsAndPooled(nn.Module):
    """The classifier's forward, returning what its head reads (the pooled state) with what it outputs.

    Heads of DeBERTa's layout (base model -> pooler -> dropout -> classifier) are split exactly there;
    any other sequence classifier gives the first token's last hidden state. One module serves the
    eager path, ``torch.compile`` and the ONNX export.
    """

    def __init__(self, model: PreTrainedModel) -> None:
        super().__init__()
        self.model = model
        self.has_pooler = all(
            isinstance(getattr(model, part, None), nn.Module) for part in ("pooler", "classifier", "dropout")
        )

    @property
    def pooled_size(self) -> int:
        config = self.model.config
        if self.has_pooler:
            return int(getattr(config, "pooler_hidden_size", None) or config.hidden_size)
        return int(config.hidden_size)

    def relative_positions(self, length: int, device: torch.device) -> torch.Tensor | None:
        """DeBERTa's relative position ids for a sequence length, from its encoder (None for a model without
        relative attention). They depend on the length alone: a static shape computes them once, outside its
        CUDA graph, since computing them copies a host scalar to the GPU (transformers'
        ``make_log_bucket_position``), which graph capture does not allow."""
        encoder = getattr(self.model.base_model, "encoder", None)
        if not self.has_pooler or not getattr(encoder, "relative_attention", False):
            return None
        return cast(torch.Tensor, encoder.get_rel_pos(torch.zeros((1, length, 1), device=device)))  # type: ignore[union-attr]

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, relative_pos: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.has_pooler:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            return out.logits, out.hidden_states[-1][:, 0]
        base = self.model.base_model
        if relative_pos is None:
            hidden = base(input_ids=input_ids, attention_mask=attention_mask)[0]
        else:  # DeBERTa's base model is its embeddings then its encoder, here given the relative positions
            embedded = base.embeddings(input_ids=input_ids, mask=attention_mask)  # type: ignore[operator]
            hidden = base.encoder(  # type: ignore[operator]
                embedded, attention_mask, output_hidden_states=False, relative_pos=relative_pos
            ).last_hidden_state
        pooler, dropout, head = (cast(nn.Module, getattr(self.model, p)) for p in ("pooler", "dropout", "classifier"))
        pooled = pooler(hidden)
        return head(dropout(pooled)), pooled


@dataclass
class LaunchedPass:
    """A forward pass queued on the device (:meth:`SequenceClassifier.launch`): its outputs land in these
    host tensors once ``done`` has fired. On the CPU the pass has already run (``done`` is None)."""

    logits: torch.Tensor
    pooled: torch.Tensor
    done: torch.cuda.Event | None = None


class SequenceClassifier:
    def __init__(self, model: PreTrainedModel, metadata: ModelMetadata, device: torch.device, dtype: torch.dtype):
        self.model = model
        self.metadata = metadata
        self.device = device
        self.on_gpu = device.type == "cuda"
        self.dtype = dtype
        self.vocab_size = int(model.config.vocab_size or 0)
        self.num_outputs = int(model.config.num_labels or 0)
        self.network = LogitsAndPooled(model)
        # Replaced by its compiled form after compile().
        self._run: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]] = self.network
        self.projection = Projection.for_model(metadata.version, self.network.pooled_size)
        self.compiled = False
        self.static_shapes: StaticShapeRunner | None = None
        # On a GPU, inputs are copied in on a stream of their own, so the next batch's copy overlaps the
        # running pass (launch/collect).
        self._copy_stream = (
            torch.cuda.Stream(device) if device.type == "cuda" else None  # type: ignore[no-untyped-call]
        )

    def compile(self) -> None:
        """``torch.compile`` the forward (dynamic shapes); call :meth:`warm_up` before serving."""
        self._run = torch.compile(self.network, dynamic=True)
        self.compiled = True

    def use_static_shapes(self, buckets: ShapeBuckets) -> None:
        """Run every batch in the smallest of ``buckets`` that holds it, each captured as a CUDA graph on
        a GPU (:mod:`ml_common.static_shapes`). :meth:`warm_up`, on the thread that serves, captures them."""
        if self.compiled:
            raise ValueError("static shapes replace torch.compile's dynamic ones: use one or the other")
        self.static_shapes = StaticShapeRunner(
            self.network,
            buckets,
            self.device,
            graphs=self.device.type == "cuda",
            positions=self.network.relative_positions,
        )
        self._run = self.static_shapes

    def use_dynamic_shapes(self) -> None:
        """Back to the eager network on every batch's own shape (static shapes dropped)."""
        self.static_shapes = None
        self._run = self.network

    @classmethod
    def load(cls, model_dir: str | Path, device: torch.device, dtype: torch.dtype) -> SequenceClassifier:
        """Load and check a model directory; every failure names the file at fault."""
        root = Path(model_dir)
        metadata = validate_model_dir(root)
        weights = root / WEIGHTS_FILE
        try:
            with safe_open(str(weights), framework="pt") as handle:
                if not list(handle.keys()):
                    raise ModelDirectoryError(str(weights), "holds no tensors")
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelDirectoryError(str(weights), f"not a readable safetensors file ({exc})") from None
        try:
            config = AutoConfig.from_pretrained(root)
        except Exception as exc:
            raise ModelDirectoryError(str(root / CONFIG_FILE), f"not a usable model config ({exc})") from None
        if config.num_labels != metadata.num_outputs:
            raise ModelDirectoryError(
                str(root / CONFIG_FILE),
                f"config has {config.num_labels} outputs but metadata.json describes {metadata.num_outputs}",
            )
        try:
            model = AutoModelForSequenceClassification.from_pretrained(root, config=config, dtype=dtype)
        except Exception as exc:
            raise ModelDirectoryError(str(weights), f"weights do not fit the config ({exc})") from None
        model.to(device).eval()
        log.info("loaded %s %s (%s) on %s as %s", metadata.name, metadata.version, type(model).__name__, device, dtype)
        return cls(model, metadata, device, dtype)

    @torch.inference_mode()
    def infer(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits [batch, outputs], embedding [batch, EMBEDDING_DIM]) from one forward pass."""
        return self.collect(self.launch(input_ids, attention_mask))

    @torch.inference_mode()
    def launch(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> LaunchedPass:
        """Queue one forward pass and return before it has run: the inputs go through pinned memory on
        the copy stream, the pass and the copy of its outputs into pinned host memory on the serving
        stream after them. :meth:`collect` waits for it; meanwhile the next batch can be launched, so its
        preparation and copy overlap this pass. On the CPU the pass runs here."""
        if self._copy_stream is None:
            ids = torch.from_numpy(np.ascontiguousarray(input_ids, dtype=np.int64))
            mask = torch.from_numpy(np.ascontiguousarray(attention_mask, dtype=np.int64))
            logits, pooled = self._run(ids, mask)
            return LaunchedPass(logits.float(), pooled.float())
        host_ids = torch.from_numpy(np.ascontiguousarray(input_ids, dtype=np.int64)).pin_memory()
        host_mask = torch.from_numpy(np.ascontiguousarray(attention_mask, dtype=np.int64)).pin_memory()
        serving = torch.cuda.current_stream(self.device)
        with torch.cuda.stream(self._copy_stream):
            ids = host_ids.to(self.device, non_blocking=True)
            mask = host_mask.to(self.device, non_blocking=True)
        serving.wait_stream(self._copy_stream)
        ids.record_stream(serving)  # allocated on the copy stream, read on the serving one
        mask.record_stream(serving)
        logits, pooled = self._run(ids, mask)
        out_logits = torch.empty(logits.shape, dtype=torch.float32, pin_memory=True)
        out_pooled = torch.empty(pooled.shape, dtype=torch.float32, pin_memory=True)
        out_logits.copy_(logits, non_blocking=True)
        out_pooled.copy_(pooled, non_blocking=True)
        done = torch.cuda.Event()  # type: ignore[no-untyped-call]
        done.record(serving)
        return LaunchedPass(out_logits, out_pooled, done)

    def collect(self, launched: LaunchedPass) -> tuple[np.ndarray, np.ndarray]:
        """(logits, embedding) of a launched pass, once it is done: what :meth:`infer` returns."""
        if launched.done is not None:
            launched.done.synchronize()
        return launched.logits.numpy(), self.projection.apply(launched.pooled.numpy())

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.infer(input_ids, attention_mask)[0]

    def warm_up(self, batch_size: int, length: int = 16) -> None:
        """Real forward passes so the first request pays no lazy-initialisation (or compilation) cost.

        A compiled model is run at batch 1 and ``batch_size``, short and long, so the dynamic-shape
        graphs exist before the server reports ready. Static shapes are allocated (captured as CUDA
        graphs on a GPU) first. Call it on the thread that will serve: CUDA-graph trees are per thread.
        """
        if self.static_shapes is not None and not self.static_shapes.prepared:
            self.static_shapes.prepare()
        shapes = [(batch_size, length)]
        if self.compiled:
            shapes = [(b, n) for b in sorted({1, 2, batch_size}) for n in (length, min(128, self.metadata.max_length))]
        for rows, columns in shapes:
            ids = np.ones((rows, columns), dtype=np.int64)
            self.forward(ids, np.ones_like(ids))
