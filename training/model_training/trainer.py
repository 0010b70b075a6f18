"""The training loop for sequence classifiers: deterministic, with a progress bar, CPU or GPU."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tokenizers import Tokenizer
from torch.nn import functional as F
from tqdm.auto import tqdm
from transformers import PreTrainedModel, get_linear_schedule_with_warmup

from serving_common.tokenization import TextEncoder


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 5e-4
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    max_train_length: int = 128
    seed: int = 13
    # Vocabulary of the tokenizer trained for a from-scratch backbone (pretrained ones bring their own).
    vocab_size: int = 8000


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _tensors(encoder: TextEncoder, texts: list[str], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    batch = encoder.encode(texts)
    return torch.from_numpy(batch.input_ids).to(device), torch.from_numpy(batch.attention_mask).to(device)


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def balanced_cross_entropy(labels: np.ndarray, num_labels: int, device: torch.device) -> LossFn:
    """Cross-entropy that up-weights rarer classes, so a 13% spam rate does not teach "always ham"."""
    counts = np.bincount(labels, minlength=num_labels).astype(np.float64)
    weights = torch.tensor(counts.sum() / (num_labels * np.maximum(counts, 1)), dtype=torch.float32)
    weights = weights.clamp(max=4.0).to(device)
    return lambda logits, targets: F.cross_entropy(logits, targets.long(), weight=weights)


def train_classifier(
    model: PreTrainedModel,
    tokenizer: Tokenizer,
    texts: list[str],
    targets: torch.Tensor,
    loss_fn: LossFn,
    config: TrainingConfig,
    device: torch.device,
    desc: str = "training",
) -> None:
    """Train in place. ``targets`` holds one row per text; ``loss_fn(logits, targets_of_batch)``."""
    seed_everything(config.seed)
    model.to(device).train()
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
    )
    steps_per_epoch = math.ceil(len(texts) / config.batch_size)
    total = steps_per_epoch * config.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total * config.warmup_fraction), total)
    generator = torch.Generator().manual_seed(config.seed)
    encoder = TextEncoder(tokenizer, config.max_train_length)
    with tqdm(total=total, desc=desc, unit="step") as bar:
        for epoch in range(config.epochs):
            order = torch.randperm(len(texts), generator=generator).tolist()
            for start in range(0, len(order), config.batch_size):
                idx = order[start : start + config.batch_size]
                ids, mask = _tensors(encoder, [texts[i] for i in idx], device)
                logits = model(input_ids=ids, attention_mask=mask).logits
                loss = loss_fn(logits, targets[idx].to(device))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.4f}")
                bar.update(1)
    model.eval()


@torch.inference_mode()
def predict_logits(
    model: PreTrainedModel,
    tokenizer: Tokenizer,
    texts: list[str],
    max_length: int,
    device: torch.device,
    batch_size: int = 64,
) -> np.ndarray:
    model.to(device).eval()
    encoder = TextEncoder(tokenizer, max_length)
    out = []
    for start in range(0, len(texts), batch_size):
        ids, mask = _tensors(encoder, texts[start : start + batch_size], device)
        logits = model(input_ids=ids, attention_mask=mask).logits
        out.append(logits.float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.num_labels), dtype=np.float32)
