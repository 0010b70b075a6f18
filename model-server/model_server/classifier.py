"""The model itself: a sequence classifier loaded from a model directory.

It knows nothing about HTTP, KServe, batching or logging; those wrap it. ``infer`` takes token
ids and an attention mask and returns float32 logits and, from the same pass, the input's embedding
(the pooled hidden state the head reads, randomly projected: see :mod:`serving_common.embedding`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel

from serving_common.embedding import Projection
from serving_common.errors import ModelDirectoryError
from serving_common.model_dir import CONFIG_FILE, WEIGHTS_FILE, ModelMetadata, validate_model_dir

log = logging.getLogger(__name__)


class SequenceClassifier:
    def __init__(self, model: PreTrainedModel, metadata: ModelMetadata, device: torch.device, dtype: torch.dtype):
        self.model = model
        self.metadata = metadata
        self.device = device
        self.dtype = dtype
        self.vocab_size = int(model.config.vocab_size)
        self.num_outputs = int(model.config.num_labels)
        self._pooled: torch.Tensor | None = None
        pooled_size = int(model.config.hidden_size)
        pooler = getattr(model, "pooler", None)
        if isinstance(pooler, nn.Module):  # DeBERTa's ContextPooler: exactly what the head reads
            pooler.register_forward_hook(self._keep_pooled)
            pooled_size = int(getattr(model.config, "pooler_hidden_size", None) or pooled_size)
        self.projection = Projection.for_model(metadata.version, pooled_size)

    def _keep_pooled(self, _module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        self._pooled = output

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
        """(logits [batch, outputs], embedding [batch, EMBEDDING_DIM]) from one forward pass.

        Passes run one at a time (the model server's single forward thread), so the pooler hook's
        slot is never shared between two passes.
        """
        ids = torch.from_numpy(np.ascontiguousarray(input_ids, dtype=np.int64)).to(self.device)
        mask = torch.from_numpy(np.ascontiguousarray(attention_mask, dtype=np.int64)).to(self.device)
        self._pooled = None
        out = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=self._needs_hidden_states)
        pooled = self._pooled if self._pooled is not None else out.hidden_states[-1][:, 0]
        embedding = self.projection.apply(pooled.float().cpu().numpy())
        return out.logits.float().cpu().numpy(), embedding

    @property
    def _needs_hidden_states(self) -> bool:
        return not isinstance(getattr(self.model, "pooler", None), nn.Module)

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.infer(input_ids, attention_mask)[0]

    def warm_up(self, batch_size: int, length: int = 16) -> None:
        """One real forward pass so the first request pays no lazy-initialisation cost."""
        ids = np.ones((batch_size, length), dtype=np.int64)
        self.forward(ids, np.ones_like(ids))
