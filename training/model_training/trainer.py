"""The training loop for sequence classifiers: deterministic, with a progress bar, CPU or GPU.

Fine-tuning the way it is done well: AdamW with linear warm-up and decay, gradient clipping, a maximum
training length, and early stopping on validation: after each epoch the validation texts are scored
(by the task's ``ValidationScore``, else the negative loss), the weights of the best epoch are kept,
and training stops once ``patience`` epochs in a row have fallen short of it. A task whose validation
score is noisy passes a ``tolerance``: an epoch within it of the best counts as good as the best, and
the later of two such epochs is kept (it has seen more data at a lower learning rate).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from tokenizers import Tokenizer
from torch.nn import functional as F
from tqdm.auto import tqdm
from transformers import PreTrainedModel, get_linear_schedule_with_warmup

from ml_common.device import has_native_bf16
from serving_common.tokenization import TextEncoder


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 5e-4
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    max_train_length: int = 128
    # Of a text longer than ``max_train_length``, the tokens kept from its end (the rest from its start;
    # ``serving_common.tokenization.TextEncoder``). Stored in the model's metadata, so serving cuts alike.
    tail_tokens: int = 0
    seed: int = 13
    # Epochs without a better validation score before training stops (the best epoch's weights are kept).
    patience: int = 1
    # Batches of texts of similar length (padding is to a batch's longest text): see ``_batches``.
    group_by_length: bool = True
    # Vocabulary of the tokenizer trained for a from-scratch backbone (pretrained ones bring their own).
    vocab_size: int = 8000
    # Weight rarer classes up in a classification loss (``cross_entropy``). Training from scratch needs it;
    # fine-tuning does without: weighted, the pretrained encoder learnt that messages about phones and
    # texting are spam (docs/models.md). The decision threshold is chosen on validation either way.
    balance_classes: bool = True
    # The classification head (``HEAD_PREFIXES``) learns at this multiple of ``learning_rate``: a pretrained
    # encoder wants a small rate, a head that starts from random weights a larger one.
    head_learning_rate_factor: float = 1.0
    # Spam only: the training targets mix the label with this weight of a character n-gram model's
    # probability, cross-fitted so that the n-gram model never saw the text (``ngram.soft_targets``).
    ngram_teacher_weight: float = 0.0
    # Spam only: the served verdict's log-odds are this share of a character n-gram logistic regression's
    # (fitted on the training split, ``serving_common.char_ngrams``) and the rest the encoder's; the decision
    # threshold is chosen on the blend. 0 serves the encoder alone.
    ngram_blend_weight: float = 0.0
    # Forward and backward passes in bfloat16 (weights and optimizer stay float32) where the processor has
    # native bfloat16 arithmetic (AVX512-BF16 or AMX on CPU, Ampere and later on GPU): 1.6-1.8x faster
    # training steps on the 2-core VM. Elsewhere, and when off, float32 throughout. The spam default uses it;
    # the intent default does not: trained in bfloat16 its accuracy on one independent set fell by 0.033
    # (and rose by as much on the other; docs/models.md).
    mixed_precision: bool = False


# Fine-tuning a pretrained encoder (both defaults; spam changes the rates, ``spam.FINE_TUNING_CONFIG``):
# 3 epochs at 1.5e-4 with linear warm-up and decay, 64 training tokens. At 5e-5 the classifier, which
# starts from random weights, stayed under-trained (intent confidence too low, spam F1 0.923); at 5e-4
# pretraining was overwritten (docs/models.md).
FINE_TUNING = TrainingConfig(epochs=3, learning_rate=1.5e-4, max_train_length=64, balance_classes=False)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _tensors(encoder: TextEncoder, texts: list[str], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    batch = encoder.encode(texts)
    return torch.from_numpy(batch.input_ids).to(device), torch.from_numpy(batch.attention_mask).to(device)


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# Higher is better: (validation logits, validation targets) -> score. A task whose quality is not its loss
# (the spam detector is judged by F1 on its rare class) brings its own.
ValidationScore = Callable[[np.ndarray, np.ndarray], float]
GROUP_SIZE = 50  # batches per length-sorted group
HEAD_PREFIXES = ("pooler.", "classifier.")  # DebertaV2ForSequenceClassification's head


def _lengths(encoder: TextEncoder, texts: list[str]) -> np.ndarray:
    return np.concatenate(
        [encoder.encode(texts[i : i + 256]).attention_mask.sum(axis=1) for i in range(0, len(texts), 256)]
    )


def _batches(lengths: np.ndarray, config: TrainingConfig, generator: torch.Generator) -> list[list[int]]:
    """One epoch's batches. Shuffled; with ``group_by_length`` the shuffled order is cut into groups of
    50 batches, each sorted by length before it is cut into batches, and the batches are shuffled again
    (what Hugging Face's ``group_by_length`` does). A batch is padded to its longest text: SMS messages
    average 25 MiniLM tokens but a random batch of 32 pads to 60, so grouping saves most of that work
    while every batch is still a random draw of the data."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    size = config.batch_size
    if not config.group_by_length:
        return [order[i : i + size] for i in range(0, len(order), size)]
    batches = []
    for start in range(0, len(order), size * GROUP_SIZE):
        group = sorted(order[start : start + size * GROUP_SIZE], key=lambda i: -lengths[i])
        batches += [group[i : i + size] for i in range(0, len(group), size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def cross_entropy(labels: np.ndarray, num_labels: int, device: torch.device, balance_classes: bool) -> LossFn:
    """Cross-entropy against class indices, or against rows of class probabilities (soft targets); with
    ``balance_classes`` rarer classes are weighted up (at most 4x), so that a 13 % spam rate does not
    teach a from-scratch model "always ham"."""
    weights = None
    if balance_classes:
        counts = np.bincount(labels, minlength=num_labels).astype(np.float64)
        balanced = torch.tensor(counts.sum() / (num_labels * np.maximum(counts, 1)), dtype=torch.float32)
        weights = balanced.clamp(max=4.0).to(device)
    return lambda logits, targets: F.cross_entropy(
        logits, targets.float() if targets.ndim == 2 else targets.long(), weight=weights
    )


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    targets: torch.Tensor  # one row per text, what the loss function takes


@dataclass
class TrainingHistory:
    """What early stopping saw: the validation loss and score after each epoch run, and the epoch kept."""

    validation_loss: list[float] = field(default_factory=list)
    validation_score: list[float] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    mixed_precision: bool = False

    def as_dict(self) -> dict:
        return {
            "mixed_precision_used": self.mixed_precision,
            "validation_loss": [round(v, 5) for v in self.validation_loss],
            "validation_score": [round(v, 5) for v in self.validation_score],
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
        }


@torch.inference_mode()
def _validate(
    model: PreTrainedModel, tokenizer: Tokenizer, data: LabelledTexts, loss_fn: LossFn, config: TrainingConfig
) -> tuple[float, np.ndarray]:
    """Mean loss and the logits over ``data`` at the training length; the model is left in training mode."""
    device = next(model.parameters()).device
    logits = predict_logits(model, tokenizer, data.texts, config.max_train_length, device, config.tail_tokens)
    loss = float(loss_fn(torch.from_numpy(logits).to(device), data.targets.to(device)))
    model.train()
    return loss, logits


def parameter_groups(model: PreTrainedModel, config: TrainingConfig) -> list[dict]:
    """AdamW's parameter groups: weight decay on weight matrices only (not on biases or LayerNorm), and the
    head (pooler and classifier) at ``head_learning_rate_factor`` times the encoder's learning rate."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        head, decays = name.startswith(HEAD_PREFIXES), param.ndim >= 2 and "LayerNorm" not in name
        groups.setdefault((head, decays), []).append(param)
    return [
        {
            "params": params,
            "weight_decay": config.weight_decay if decays else 0.0,
            "lr": config.learning_rate * (config.head_learning_rate_factor if head else 1.0),
        }
        for (head, decays), params in groups.items()
    ]


def train_classifier(
    model: PreTrainedModel,
    tokenizer: Tokenizer,
    train: LabelledTexts,
    validation: LabelledTexts,
    *,
    loss_fn: LossFn,
    config: TrainingConfig,
    device: torch.device,
    desc: str = "training",
    score: ValidationScore | None = None,
    tolerance: float = 0.0,
) -> TrainingHistory:
    """Train in place on ``train``, stopping early on ``validation``; the best epoch's weights are left in ``model``.

    An epoch whose validation score is no more than ``tolerance`` below the best so far replaces it (ties
    and differences validation cannot resolve go to the later epoch); ``patience`` epochs in a row further
    below stop training."""
    texts, targets = train.texts, train.targets
    seed_everything(config.seed)
    model.to(device).train()
    optimizer = torch.optim.AdamW(parameter_groups(model, config), lr=config.learning_rate)
    steps_per_epoch = math.ceil(len(texts) / config.batch_size)
    total = steps_per_epoch * config.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total * config.warmup_fraction), total)
    generator = torch.Generator().manual_seed(config.seed)
    encoder = TextEncoder(tokenizer, config.max_train_length, config.tail_tokens)
    lengths = _lengths(encoder, texts)
    history = TrainingHistory()
    bf16 = config.mixed_precision and has_native_bf16(device)
    history.mixed_precision = bf16
    best_state: dict[str, torch.Tensor] = {}
    with tqdm(total=total, desc=desc, unit="step") as bar:
        for epoch in range(config.epochs):
            for idx in _batches(lengths, config, generator):
                ids, mask = _tensors(encoder, [texts[i] for i in idx], device)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    logits = model(input_ids=ids, attention_mask=mask).logits
                loss = loss_fn(logits.float(), targets[idx].to(device))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.4f}")
                bar.update(1)
            loss, logits = _validate(model, tokenizer, validation, loss_fn, config)
            history.validation_loss.append(loss)
            history.validation_score.append(score(logits, validation.targets.numpy()) if score else -loss)
            if history.validation_score[-1] >= max(history.validation_score[:-1], default=-math.inf) - tolerance:
                history.best_epoch = epoch + 1
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            elif epoch + 1 - history.best_epoch >= config.patience:
                history.stopped_early = epoch + 1 < config.epochs
                break
    if best_state:
        model.load_state_dict(best_state)
    model.eval()
    return history


@torch.inference_mode()
def predict_logits(
    model: PreTrainedModel,
    tokenizer: Tokenizer,
    texts: list[str],
    max_length: int,
    device: torch.device,
    tail_tokens: int = 0,
    batch_size: int = 64,
) -> np.ndarray:
    model.to(device).eval()
    encoder = TextEncoder(tokenizer, max_length, tail_tokens)
    out = []
    for start in range(0, len(texts), batch_size):
        ids, mask = _tensors(encoder, texts[start : start + batch_size], device)
        logits = model(input_ids=ids, attention_mask=mask).logits
        out.append(logits.float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.num_labels), dtype=np.float32)
