"""The model itself: a sequence classifier loaded from a model directory.

It knows nothing about HTTP, KServe, batching or logging; those wrap it. ``infer`` takes token
ids and an attention mask and returns float32 logits and, from the same pass, the input's embedding
(the pooled hidden state the head reads, randomly projected: see :mod:`serving_common.embedding`).
On GPU it runs in bf16 under ``torch.inference_mode``, optionally ``torch.compile``d.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel

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

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.has_pooler:
            hidden = self.model.base_model(input_ids=input_ids, attention_mask=attention_mask)[0]
            pooler, dropout, head = (
                cast(nn.Module, getattr(self.model, p)) for p in ("pooler", "dropout", "classifier")
            )
            pooled = pooler(hidden)
            return head(dropout(pooled)), pooled
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        return out.logits, out.hidden_states[-1][:, 0]


class Classifier(Protocol):
    """A loaded model: PyTorch (:class:`SequenceClassifier`) or ONNX Runtime (:class:`~ml_common.onnx_runtime.
    OnnxClassifier`). What the model server, the baseline generator and the bench ask of it."""

    metadata: ModelMetadata
    projection: Projection
    vocab_size: int
    num_outputs: int
    compiled: bool

    def infer(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits [batch, outputs], embedding [batch, EMBEDDING_DIM]) from one forward pass."""
        ...

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...

    def warm_up(self, batch_size: int, length: int = 16) -> None: ...


class SequenceClassifier:
    def __init__(self, model: PreTrainedModel, metadata: ModelMetadata, device: torch.device, dtype: torch.dtype):
        self.model = model
        self.metadata = metadata
        self.device = device
        self.dtype = dtype
        self.vocab_size = int(model.config.vocab_size or 0)
        self.num_outputs = int(model.config.num_labels or 0)
        self.network = LogitsAndPooled(model)
        # Replaced by its compiled form after compile().
        self._run: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] = self.network
        self.projection = Projection.for_model(metadata.version, self.network.pooled_size)
        self.compiled = False

    def compile(self) -> None:
        """``torch.compile`` the forward (dynamic shapes); call :meth:`warm_up` before serving."""
        self._run = torch.compile(self.network, dynamic=True)
        self.compiled = True

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
        ids = torch.from_numpy(np.ascontiguousarray(input_ids, dtype=np.int64)).to(self.device)
        mask = torch.from_numpy(np.ascontiguousarray(attention_mask, dtype=np.int64)).to(self.device)
        logits, pooled = self._run(ids, mask)
        embedding = self.projection.apply(pooled.float().cpu().numpy())
        return logits.float().cpu().numpy(), embedding

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.infer(input_ids, attention_mask)[0]

    def warm_up(self, batch_size: int, length: int = 16) -> None:
        """Real forward passes so the first request pays no lazy-initialisation (or compilation) cost.

        A compiled model is run at batch 1 and ``batch_size``, short and long, so the dynamic-shape
        graphs exist before the server reports ready.
        """
        shapes = [(batch_size, length)]
        if self.compiled:
            shapes = [(b, n) for b in sorted({1, 2, batch_size}) for n in (length, min(128, self.metadata.max_length))]
        for rows, columns in shapes:
            ids = np.ones((rows, columns), dtype=np.int64)
            self.forward(ids, np.ones_like(ids))
