"""One training skeleton for every task: split, fit, evaluate, describe, export.

A task says what is its own through a :class:`TaskSpec` (how its data splits, how a backbone is fitted to
it, what its figures are, which metadata fields and model card it has); the skeleton does the rest the
same way for all: the device, the seed, the timing, the dataset and training records in ``metrics.json``,
the metadata, the card (a Jinja2 template under ``cards/``) and the export.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import jinja2
import torch

from ml_common.datasets import Splits
from ml_common.device import resolve_device
from model_training.backbones import Backbone
from model_training.evaluation import reliability_rows
from model_training.export import export_model_dir
from model_training.trainer import TrainingConfig, TrainingHistory
from serving_common.model_dir import ModelMetadata

CARDS = jinja2.Environment(
    loader=jinja2.PackageLoader("model_training", "cards"),
    undefined=jinja2.StrictUndefined,  # a field the card names but the metrics lack fails the export
    keep_trailing_newline=True,
    autoescape=False,  # Markdown, not HTML
)
CARDS.filters["fmt"] = format  # {{ value | fmt(".4f") }}
CARDS.globals["reliability_rows"] = reliability_rows


@dataclass
class Fitted:
    """A backbone fitted to a task's training split, with what the task's metadata needs from the fit."""

    backbone: Backbone
    history: TrainingHistory
    metadata_fields: dict[str, Any] = field(default_factory=dict)  # e.g. decision_threshold, heads
    state: Any = None  # what the task's own evaluation needs from its fit (e.g. the spam threshold)
    files: dict[str, bytes] = field(default_factory=dict)  # more files of the model directory, by name


class TaskSpec(Protocol):
    task: str  # a registered task (serving_common.tasks)
    labels: list[str]  # the model's output labels, as metadata.json names them
    max_length: int  # tokens, in serving (and in evaluation)
    card: str  # the model card's template under cards/

    def split(self, seed: int) -> Splits: ...

    def fit(self, splits: Splits, backbone: str, config: TrainingConfig, device: torch.device, desc: str) -> Fitted: ...

    def evaluate(
        self, fitted: Fitted, splits: Splits, metadata: ModelMetadata, config: TrainingConfig, device: torch.device
    ) -> dict[str, Any]:
        """The task's figures for metrics.json (``held_out`` at least), on data the model did not train on."""
        ...

    def dataset_record(self, splits: Splits) -> dict[str, Any]:
        """What metrics.json's ``dataset`` adds for this task (e.g. sizes by stratum); may be empty."""
        ...

    def card_helpers(self) -> Mapping[str, Callable[..., str]]:
        """Functions the card's template calls (tables built from the figures)."""
        ...


def check_tail_tokens(config: TrainingConfig, max_length: int) -> None:
    """Refuses a tail longer than half of what the model reads (``ModelMetadata`` would refuse it after training)."""
    read = min(max_length, config.max_train_length)
    if config.tail_tokens > read // 2:
        raise ValueError(
            f"tail_tokens {config.tail_tokens} is more than half of the {read} tokens the model reads: give a "
            "smaller --tail-tokens (0 reads the start alone)"
        )


def train_model(
    spec: TaskSpec,
    out_dir: Path,
    *,
    name: str,
    backbone: str,
    config: TrainingConfig,
    dataset_source: str,
    device: torch.device | None = None,
    version: str = "auto",
) -> ModelMetadata:
    """Train, evaluate and export one model directory for ``spec``'s task."""
    check_tail_tokens(config, spec.max_length)  # refused before training, not when the metadata is written after it
    device = device or resolve_device("auto")
    started = time.perf_counter()
    splits = spec.split(config.seed)
    fitted = spec.fit(splits, backbone, config, device, f"training {name}")
    bb = fitted.backbone
    metadata = ModelMetadata(
        name=name,
        version=version,
        task=spec.task,
        architecture=type(bb.model).__name__,
        labels=spec.labels,
        max_length=spec.max_length,
        tail_tokens=config.tail_tokens,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        extra={"backbone": bb.source, "dataset_hash": splits.dataset_hash},
        **fitted.metadata_fields,
    )
    figures = spec.evaluate(fitted, splits, metadata, config, device)
    metrics = {
        "task": spec.task,
        "split": "test",
        **figures,
        "dataset": {
            "source": dataset_source,
            "hash": splits.dataset_hash,
            "split_seed": splits.seed,
            "sizes": {part: len(getattr(splits, part)) for part in ("train", "validation", "test")},
            **spec.dataset_record(splits),
            "duplicates_removed": splits.duplicates_removed,
        },
        "backbone": bb.source,
        "training": {
            **asdict(config),
            **fitted.history.as_dict(),
            "max_length": spec.max_length,
            "device": str(device),
            "seconds": round(time.perf_counter() - started, 1),
        },
    }
    card = CARDS.get_template(spec.card).render(name=name, m=metrics, **spec.card_helpers())
    return export_model_dir(out_dir, bb.model, bb.tokenizer, metadata, metrics, card, files=fitted.files)
