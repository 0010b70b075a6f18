"""Where a classifier's encoder comes from: a hub id, a local directory, or a small DeBERTa-v2 from scratch.

Production serves fine-tuned ``microsoft/deberta-v3-base`` checkpoints. Offline (no model hub), the
default is a small DeBERTa-v2 configuration trained from scratch with a tokenizer trained on the
training text: same architecture family, same serving path, far fewer FLOPs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DebertaV2Config,
    DebertaV2ForSequenceClassification,
    PreTrainedModel,
)

from model_training.tokenizer import PAD, train_tokenizer

SCRATCH_BACKBONE = "deberta-v2-small"


@dataclass
class Backbone:
    model: PreTrainedModel
    tokenizer: Tokenizer
    source: str


def scratch_config(vocab_size: int, num_labels: int, pad_token_id: int, max_length: int) -> DebertaV2Config:
    return DebertaV2Config(
        vocab_size=vocab_size,
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=512,
        max_position_embeddings=max_length,
        relative_attention=True,
        position_buckets=64,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        pad_token_id=pad_token_id,
        num_labels=num_labels,
    )


def load_backbone(
    spec: str, *, train_texts: list[str], labels: list[str], max_length: int, vocab_size: int = 8000
) -> Backbone:
    id2label = dict(enumerate(labels))
    label2id = {label: i for i, label in id2label.items()}
    if spec == SCRATCH_BACKBONE:
        tokenizer = train_tokenizer(train_texts, vocab_size=vocab_size)
        config = scratch_config(tokenizer.get_vocab_size(), len(labels), tokenizer.token_to_id(PAD), max_length)
        config.id2label, config.label2id = id2label, label2id
        return Backbone(DebertaV2ForSequenceClassification(config), tokenizer, SCRATCH_BACKBONE)
    # A hub id (e.g. microsoft/deberta-v3-base) or a local checkpoint directory.
    source = str(Path(spec).resolve()) if Path(spec).is_dir() else spec
    hf_tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True)
    if not getattr(hf_tokenizer, "is_fast", False):
        raise ValueError(f"{spec}: no fast tokenizer available; serving needs tokenizer.json")
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=len(labels), id2label=id2label, label2id=label2id, ignore_mismatched_sizes=True
    )
    return Backbone(model, hf_tokenizer.backend_tokenizer, spec)
