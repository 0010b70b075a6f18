"""The default models ``make models`` and ``make run`` build when they are missing."""

from __future__ import annotations

import logging
from pathlib import Path

from ml_common.datasets import load_sms_spam
from serving_common.errors import ModelDirectoryError
from serving_common.model_dir import validate_model_dir

log = logging.getLogger(__name__)
DEFAULT_SPAM_DIR = "spam-detector"
DEFAULT_INTENT_DIR = "intent-classifier"


def ensure_default_models(models_dir: Path) -> list[Path]:
    """Build every default model that is missing or invalid; leave valid ones alone (fast restarts)."""
    from ml_common.datasets import read_intent_prompts
    from model_training.intent import train_intent_model
    from model_training.spam import train_spam_model

    builders = {
        DEFAULT_SPAM_DIR: lambda target: train_spam_model(load_sms_spam(), target),
        DEFAULT_INTENT_DIR: lambda target: train_intent_model(read_intent_prompts(), target),
    }
    targets = []
    for name, build in builders.items():
        target = models_dir / name
        try:
            validate_model_dir(target)
            log.info("default model present: %s", target)
        except ModelDirectoryError as exc:
            log.info("building default model %s into %s (%s); a few minutes on 2 CPU cores", name, target, exc)
            build(target)
        targets.append(target)
    return targets
