"""Shared fixtures: small *real* models trained in seconds, never mocks of them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model_training.datasets import load_sms_spam
from model_training.spam import train_spam_model
from model_training.trainer import TrainingConfig

TINY_CONFIG = TrainingConfig(epochs=4, batch_size=32, max_train_length=48, learning_rate=2e-3)


def _balanced_subset(n_per_label: int) -> list:
    examples = load_sms_spam()
    spam = [e for e in examples if e.label == "spam"][:n_per_label]
    ham = [e for e in examples if e.label == "ham"][:n_per_label]
    return spam + ham


def build_tiny_model(out: Path, seed: int) -> Path:
    torch.set_num_threads(2)
    config = TrainingConfig(**{**TINY_CONFIG.__dict__, "seed": seed})
    train_spam_model(_balanced_subset(200), out, config=config)
    return out


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two small spam models: staging and production serve different versions, as they may in real life."""
    root = tmp_path_factory.mktemp("models")
    return {
        "staging": build_tiny_model(root / "staging" / "spam-detector", seed=1),
        "production": build_tiny_model(root / "production" / "spam-detector", seed=2),
    }


@pytest.fixture(scope="session")
def model_dir(model_dirs: dict[str, Path]) -> Path:
    return model_dirs["staging"]
