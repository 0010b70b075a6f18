"""Writing a model directory that honours serving_common.model_dir's contract."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from tokenizers import Tokenizer
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from model_training.tokenizer import CLS, MASK, PAD, SEP, UNK
from serving_common.model_dir import (
    METADATA_FILE,
    METRICS_FILE,
    MODEL_CARD_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    ModelMetadata,
    validate_model_dir,
    write_json,
)

# The metadata that decides what a model answers: not its name, its version, or when and from what it was built.
ANSWER_FIELDS = (
    "task",
    "architecture",
    "labels",
    "max_length",
    "tail_tokens",
    "decision_threshold",
    "positive_label",
    "heads",
    "ngram_weight",
)
# Answer fields added after the first v2 versions, with the value that changes nothing: in the digest only when
# set otherwise, so a model that does not use them keeps the version it had.
LATER_FIELDS: dict[str, object] = {"ngram_weight": 0.0}


def content_version(weights: Path, metadata: ModelMetadata, files: Mapping[str, bytes] | None = None) -> str:
    """Same answers, same version: a digest of the weights' bytes, of the other files that score (a blended
    n-gram model) and of the metadata that turns their logits into a verdict, so a threshold chosen anew for
    the same weights is a new version (the model store refuses to overwrite a version, and drift baselines
    and promotion evidence are kept per version). ``v2-``: until 2026-12-06 the digest was of the weights
    alone (``v1-``)."""
    files = files or {}
    digest = hashlib.sha256(weights.read_bytes())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    answers = metadata.model_dump(mode="json", include=set(ANSWER_FIELDS))
    answers = {k: v for k, v in answers.items() if not (k in LATER_FIELDS and v == LATER_FIELDS[k])}
    digest.update(json.dumps(answers, sort_keys=True, separators=(",", ":")).encode())
    return f"v2-{digest.hexdigest()[:12]}"


def export_model_dir(
    out_dir: Path,
    model: PreTrainedModel,
    tokenizer: Tokenizer,
    metadata: ModelMetadata,
    metrics: dict,
    model_card: str,
    *,
    files: Mapping[str, bytes] | None = None,
) -> ModelMetadata:
    """Write weights, config, tokenizer, metadata, metrics and card; return the final metadata.

    Written to a temporary sibling and renamed into place, so a half-written directory is never served.
    """
    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save_pretrained(staging, safe_serialization=True)
    hf_tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD,
        cls_token=CLS,
        sep_token=SEP,
        unk_token=UNK,
        mask_token=MASK,
        model_max_length=metadata.max_length,
    )
    hf_tokenizer.save_pretrained(staging)
    if not (staging / TOKENIZER_FILE).is_file():
        tokenizer.save(str(staging / TOKENIZER_FILE))
    for name, content in (files or {}).items():
        (staging / name).write_bytes(content)
    version = (
        metadata.version if metadata.version != "auto" else content_version(staging / WEIGHTS_FILE, metadata, files)
    )
    metadata = metadata.model_copy(update={"version": version})
    write_json(staging / METADATA_FILE, metadata.model_dump(mode="json"))
    write_json(staging / METRICS_FILE, {**metrics, "model_version": version})
    (staging / MODEL_CARD_FILE).write_text(model_card.replace("{version}", version), encoding="utf-8")
    validate_model_dir(staging)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return metadata
