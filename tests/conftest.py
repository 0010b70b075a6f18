"""Shared fixtures: small *real* models trained in seconds, never mocks of them.

Tests mirror the packages (tests/api_gateway/ tests api_gateway, ...); tests/e2e/ runs the whole
platform as processes on loopback, tests/deploy/ checks the manifests, rules, dashboards and images.
Nothing a test writes lands in the working tree: models, logs and inference logs go under pytest's
temporary directories, and Hypothesis keeps its examples in one too (below).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch

from ml_common.datasets import load_sms_spam, read_intent_prompts
from model_training.backbones import MINILM_BACKBONE, SCRATCH_BACKBONE
from model_training.intent import train_intent_model
from model_training.intent_data import INTENTS
from model_training.spam import train_spam_model
from model_training.trainer import FINE_TUNING, TrainingConfig

# Hypothesis (the property tests, schemathesis) writes its example database and caches here, not into ./.hypothesis.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", tempfile.mkdtemp(prefix="textserve-hypothesis-"))

# The drift detector's tests run in its own environment (alibi-detect), from `make test`'s second step.
collect_ignore = ["drift_detector"]

TINY_CONFIG = TrainingConfig(epochs=4, batch_size=32, max_train_length=48, learning_rate=2e-3)


def _balanced_subset(n_per_label: int) -> list:
    examples = load_sms_spam()
    spam = [e for e in examples if e.label == "spam"][:n_per_label]
    ham = [e for e in examples if e.label == "ham"][:n_per_label]
    return spam + ham


def build_tiny_model(out: Path, seed: int, ngram_blend_weight: float = 0.0) -> Path:
    torch.set_num_threads(2)
    config = TrainingConfig(**{**TINY_CONFIG.__dict__, "seed": seed, "ngram_blend_weight": ngram_blend_weight})
    train_spam_model(_balanced_subset(200), out, backbone=SCRATCH_BACKBONE, config=config)
    return out


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two small spam models: staging and production serve different versions, as they may in real life.
    Production's blends a character n-gram model into its verdicts, as the default does; staging's reads its
    encoder alone."""
    root = tmp_path_factory.mktemp("models")
    return {
        "staging": build_tiny_model(root / "staging" / "spam-detector", seed=1),
        "production": build_tiny_model(root / "production" / "spam-detector", seed=2, ngram_blend_weight=0.5),
    }


@pytest.fixture(scope="session")
def model_dir(model_dirs: dict[str, Path]) -> Path:
    return model_dirs["staging"]


@pytest.fixture(scope="session")
def blended_model_dir(model_dirs: dict[str, Path]) -> Path:
    """A spam model whose verdicts blend a character n-gram model with the encoder (``ngram_weight``)."""
    return model_dirs["production"]


def build_tiny_intent_model(out: Path, per_intent: int = 40) -> Path:
    """The default intent backbone (pretrained MiniLM, its own WordPiece tokenizer), briefly fine-tuned:
    the end-to-end tests serve what `make models` serves, only less trained."""
    torch.set_num_threads(2)
    rows = read_intent_prompts()
    subset = [r for intent in INTENTS for r in [r for r in rows if r["intent"] == intent][:per_intent]]
    config = TrainingConfig(**{**FINE_TUNING.__dict__, "epochs": 1, "max_train_length": 32})
    train_intent_model(subset, out, backbone=MINILM_BACKBONE, config=config)
    return out


@pytest.fixture(scope="session")
def intent_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_intent_model(tmp_path_factory.mktemp("models") / "intent-classifier")


@pytest.fixture(scope="session")
def stack_model_dirs(model_dirs: dict[str, Path], intent_model_dir: Path) -> dict[str, list[Path]]:
    """What each environment's pair serves in the end-to-end tests: its spam model and the intent model."""
    return {env: [spam, intent_model_dir] for env, spam in model_dirs.items()}
