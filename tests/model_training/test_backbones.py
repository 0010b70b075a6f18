"""The pretrained path: all-MiniLM-L6-v2's BERT weights mapped onto DeBERTa-v2 must compute the same thing."""

import pytest
import torch
from transformers import BertModel, DebertaV2ForSequenceClassification

from model_training.backbones import MINILM_BACKBONE, load_backbone, minilm_dir


def test_minilm_weights_map_exactly_onto_deberta_v2():
    bb = load_backbone(MINILM_BACKBONE, train_texts=[], labels=["ham", "spam"], max_length=512, vocab_size=2000)
    assert isinstance(bb.model, DebertaV2ForSequenceClassification)
    bert = BertModel.from_pretrained(minilm_dir()).eval()
    deberta = bb.model.deberta.eval()
    encoding = bb.tokenizer.encode("Congratulations! You have won a free cruise, reply YES to claim")
    ids = torch.tensor([encoding.ids[: sum(encoding.attention_mask)]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        expected = bert(input_ids=ids, attention_mask=mask).last_hidden_state
        actual = deberta(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(expected, actual, atol=1e-4)
    assert bb.model.config.relative_attention is False and bb.model.config.position_biased_input is True


def test_pretrained_backbones_fine_tune_and_the_scratch_one_keeps_its_task_settings():
    from model_training.backbones import DEFAULT_BACKBONE, SCRATCH_BACKBONE, config_for
    from model_training.spam import FINE_TUNING_CONFIG, SCRATCH_CONFIG
    from model_training.trainer import FINE_TUNING

    assert DEFAULT_BACKBONE == MINILM_BACKBONE
    assert config_for(SCRATCH_BACKBONE, SCRATCH_CONFIG) is SCRATCH_CONFIG
    for pretrained in (MINILM_BACKBONE, "microsoft/deberta-v3-base"):
        assert config_for(pretrained, SCRATCH_CONFIG) is FINE_TUNING
    assert FINE_TUNING.learning_rate < SCRATCH_CONFIG.learning_rate
    assert config_for(MINILM_BACKBONE, SCRATCH_CONFIG, FINE_TUNING_CONFIG) is FINE_TUNING_CONFIG
    assert FINE_TUNING_CONFIG.head_learning_rate_factor > 1.0 == FINE_TUNING.head_learning_rate_factor


def test_a_layer_count_keeps_the_bottom_layers_of_the_pretrained_encoder():
    from model_training.backbones import SPAM_BACKBONE, minilm_layers

    full = load_backbone(
        MINILM_BACKBONE, train_texts=[], labels=["ham", "spam"], max_length=128, vocab_size=0
    ).model.eval()
    kept = load_backbone(
        SPAM_BACKBONE, train_texts=[], labels=["ham", "spam"], max_length=128, vocab_size=0
    ).model.eval()
    layers = minilm_layers(SPAM_BACKBONE)
    assert layers == 4 and kept.config.num_hidden_layers == layers
    ids = torch.tensor([[101, 7592, 2088, 102]])
    with torch.no_grad():
        hidden = full.deberta(input_ids=ids, output_hidden_states=True).hidden_states
        top = kept.deberta(input_ids=ids).last_hidden_state
    assert torch.allclose(hidden[layers], top, atol=1e-5)  # embeddings + the bottom layers of six, unchanged
    assert not torch.allclose(hidden[layers + 1], top, atol=1e-3)
    with pytest.raises(ValueError, match="minilm"):
        minilm_layers(f"{MINILM_BACKBONE}-l9")
