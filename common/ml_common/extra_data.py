"""Users' labelled rows (``make labelled-data``'s export) as extra training data.

They go into the training split only, never into validation or test: the figures a model is chosen and
judged by stay on the curated corpora's held-out splits. A row is used when it has the text the model read
(a label sent without its message cannot train), its text was not found to differ from what was scored
(``text_verified`` false), its label is one of the model's, and its text is in no validation or test text
(normalised, case-folded: a user may label a message the corpora hold too).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import fsspec

from ml_common.datasets import Example, Splits, deduplicate
from serving_common.inference_log.labelled import read_labelled
from serving_common.normalization import normalize_text

FEEDBACK_SOURCE = "feedback"


@dataclass
class ExtraData:
    """The rows of one export that may train, and what metrics.json and the model card say about them."""

    examples: list[Example]
    record: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | Path, labels: list[str]) -> ExtraData:
        table, about = read_labelled(str(path))
        skipped: Counter[str] = Counter()
        examples = []
        for row in table.select(["text", "label", "text_verified"]).to_pylist():
            if row["text"] is None or not row["text"].strip():
                skipped["no_text"] += 1
            elif row["text_verified"] is False:
                skipped["text_differs_from_the_scored_one"] += 1
            elif row["label"] not in labels:
                skipped["label_not_the_model's"] += 1
            else:
                examples.append(Example(row["text"], row["label"], FEEDBACK_SOURCE))
        with fsspec.open(str(path), "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        record = {
            "path": str(path),
            "sha256": digest,
            "rows": table.num_rows,
            "readable": len(examples),
            "skipped": dict(skipped),
            "export": {k: about[k] for k in ("start", "end", "excluded_keys") if k in about},
        }
        return cls(examples, record)

    def into_training(self, splits: Splits) -> tuple[Splits, dict[str, Any]]:
        """``splits`` with these rows added to the training split, and the record of what was added."""
        held_out = {normalize_text(ex.text).casefold() for ex in (*splits.validation, *splits.test)}
        in_training = {normalize_text(ex.text).casefold() for ex in splits.train}
        unique, repeats = deduplicate(self.examples)
        fresh = [ex for ex in unique if ex.text.casefold() not in held_out]
        added = [ex for ex in fresh if ex.text.casefold() not in in_training]
        record = {
            **self.record,
            "used": len(added),
            "dropped": {
                "repeated_or_conflicting_in_the_export": repeats,
                "in_validation_or_test": len(unique) - len(fresh),
                "already_in_training": len(fresh) - len(added),
            },
            "labels": dict(sorted(Counter(ex.label for ex in added).items())),
        }
        return replace(splits, train=[*splits.train, *added]), record
