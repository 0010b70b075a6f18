"""The training loop: early stopping on validation (the best epoch's weights are what training leaves in the
model) and the classification loss."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from ml_common.datasets import load_sms_spam
from model_training.backbones import SCRATCH_BACKBONE, load_backbone
from model_training.trainer import (
    HEAD_PREFIXES,
    LabelledTexts,
    TrainingConfig,
    _validate,
    cross_entropy,
    parameter_groups,
    predict_logits,
    train_classifier,
)

CONFIG = TrainingConfig(epochs=4, batch_size=32, max_train_length=48, learning_rate=2e-3, vocab_size=500, patience=1)


@pytest.fixture(scope="module")
def data() -> LabelledTexts:
    examples = load_sms_spam()
    chosen = [e for e in examples if e.label == "spam"][:96] + [e for e in examples if e.label == "ham"][:96]
    return LabelledTexts([e.text for e in chosen], torch.tensor([int(e.label == "spam") for e in chosen]))


def _train(data: LabelledTexts, validation: LabelledTexts):
    torch.manual_seed(CONFIG.seed)
    bb = load_backbone(SCRATCH_BACKBONE, train_texts=data.texts, labels=["ham", "spam"], max_length=64, vocab_size=500)
    loss_fn = cross_entropy(np.asarray(data.targets), 2, torch.device("cpu"), balance_classes=True)
    history = train_classifier(
        bb.model, bb.tokenizer, data, validation, loss_fn=loss_fn, config=CONFIG, device=torch.device("cpu")
    )
    final, _ = _validate(bb.model, bb.tokenizer, validation, loss_fn, CONFIG)
    return history, final


def test_training_runs_every_epoch_while_validation_improves(data):
    history, final = _train(data, data)  # validation = the training texts: the loss falls every epoch
    assert len(history.validation_loss) == CONFIG.epochs and not history.stopped_early
    assert history.best_epoch == CONFIG.epochs
    assert final == pytest.approx(history.validation_loss[-1], rel=1e-5)


def test_training_stops_when_validation_gets_worse_and_keeps_the_best_epoch(data):
    flipped = LabelledTexts(data.texts, 1 - data.targets)  # the better it fits, the worse it does here
    history, final = _train(data, flipped)
    assert history.stopped_early and history.best_epoch == 1
    assert len(history.validation_loss) == 1 + CONFIG.patience
    assert history.validation_loss[1] > history.validation_loss[0]
    assert final == pytest.approx(history.validation_loss[0], rel=1e-5), "the best epoch's weights were not restored"


def test_length_grouped_batches_cover_every_text_once_and_pad_less():
    from dataclasses import replace

    from model_training.trainer import _batches

    lengths = np.random.default_rng(0).integers(5, 64, size=3000)
    grouped = _batches(lengths, CONFIG, torch.Generator().manual_seed(1))
    plain = _batches(lengths, replace(CONFIG, group_by_length=False), torch.Generator().manual_seed(1))
    for batches in (grouped, plain):
        assert sorted(i for b in batches for i in b) == list(range(3000))
        assert all(len(b) <= CONFIG.batch_size for b in batches)

    def padded(batches):
        return sum(len(b) * lengths[b].max() for b in batches)

    assert padded(grouped) < 0.7 * padded(plain)
    # Still a shuffle: the first batches are not simply the longest texts.
    assert grouped != _batches(lengths, CONFIG, torch.Generator().manual_seed(2))
    assert len({int(lengths[b].max()) for b in grouped[:10]}) > 3


def test_a_task_score_decides_which_epoch_is_kept(data):
    from model_training.spam import spam_ranking

    torch.manual_seed(CONFIG.seed)
    bb = load_backbone(SCRATCH_BACKBONE, train_texts=data.texts, labels=["ham", "spam"], max_length=64, vocab_size=500)
    loss_fn = cross_entropy(np.asarray(data.targets), 2, torch.device("cpu"), balance_classes=True)
    history = train_classifier(
        bb.model,
        bb.tokenizer,
        data,
        data,
        loss_fn=loss_fn,
        config=CONFIG,
        device=torch.device("cpu"),
        score=spam_ranking,
    )
    assert len(history.validation_score) == len(history.validation_loss) >= 1
    assert all(0.0 <= s <= 1.0 for s in history.validation_score)  # average precision, not a negative loss
    kept = history.validation_score[history.best_epoch - 1]
    assert kept == max(history.validation_score)


@pytest.mark.parametrize(("tolerance", "kept", "epochs_run"), [(0.0, 1, 2), (0.02, 3, 4)])
def test_an_epoch_within_the_tolerance_of_the_best_replaces_it(data, tolerance, kept, epochs_run):
    """Scripted validation scores 0.90, 0.89, 0.95, 0.50: without a tolerance the dip at epoch 2 stops
    training (patience 1) and epoch 1 is kept; with 0.02 the dip is noise, training goes on, epoch 3 is kept."""
    scripted = iter([0.90, 0.89, 0.95, 0.50])
    torch.manual_seed(CONFIG.seed)
    bb = load_backbone(SCRATCH_BACKBONE, train_texts=data.texts, labels=["ham", "spam"], max_length=64, vocab_size=500)
    loss_fn = cross_entropy(np.asarray(data.targets), 2, torch.device("cpu"), balance_classes=True)
    history = train_classifier(
        bb.model,
        bb.tokenizer,
        data,
        data,
        loss_fn=loss_fn,
        config=CONFIG,
        device=torch.device("cpu"),
        score=lambda logits, labels: next(scripted),
        tolerance=tolerance,
    )
    assert history.best_epoch == kept and len(history.validation_score) == epochs_run
    final, _ = _validate(bb.model, bb.tokenizer, data, loss_fn, CONFIG)
    assert final == pytest.approx(history.validation_loss[kept - 1], rel=1e-5), "the kept epoch's weights"


def test_cross_entropy_takes_class_probabilities_as_targets():
    logits = torch.tensor([[2.0, 0.0], [0.5, 1.0]])
    loss = cross_entropy(np.array([0, 1]), 2, torch.device("cpu"), balance_classes=False)
    one_hot = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert float(loss(logits, one_hot)) == pytest.approx(float(loss(logits, torch.tensor([0, 1]))))
    soft = torch.tensor([[0.8, 0.2], [0.3, 0.7]])
    expected = -(soft * F.log_softmax(logits, dim=-1)).sum(dim=1).mean()
    assert float(loss(logits, soft)) == pytest.approx(float(expected))


def test_cross_entropy_weights_the_rarer_class_up_only_when_asked():
    labels = np.array([0] * 9 + [1])  # class 1 is rare: weight 5, capped at 4; class 0: 10 / 18
    logits, targets = torch.tensor([[2.0, 0.0], [2.0, 0.0]]), torch.tensor([0, 1])
    rows = F.cross_entropy(logits, targets, reduction="none")  # the rare row is the costly mistake
    plain = cross_entropy(labels, 2, torch.device("cpu"), balance_classes=False)(logits, targets)
    assert float(plain) == pytest.approx(float(rows.mean()))
    weighted = cross_entropy(labels, 2, torch.device("cpu"), balance_classes=True)(logits, targets)
    expected = (10 / 18 * rows[0] + 4.0 * rows[1]) / (10 / 18 + 4.0)
    assert float(weighted) == pytest.approx(float(expected)) and float(weighted) > float(plain)


def test_the_head_learns_at_its_own_rate_and_only_weight_matrices_decay():
    bb = load_backbone(
        SCRATCH_BACKBONE, train_texts=["a b", "c d"], labels=["ham", "spam"], max_length=16, vocab_size=100
    )
    config = TrainingConfig(learning_rate=1e-4, head_learning_rate_factor=10.0, weight_decay=0.01)
    groups = parameter_groups(bb.model, config)
    rate = {id(p): g["lr"] for g in groups for p in g["params"]}
    decay = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    named = dict(bb.model.named_parameters())
    assert len(rate) == len(named) == sum(len(g["params"]) for g in groups)  # each parameter in one group
    heads = [n for n in named if n.startswith(HEAD_PREFIXES)]
    assert {"classifier.weight", "pooler.dense.weight"} <= set(heads)
    assert all(rate[id(named[n])] == pytest.approx(1e-3 if n in heads else 1e-4) for n in named)
    assert decay[id(named["classifier.weight"])] == 0.01 and decay[id(named["classifier.bias"])] == 0.0
    assert all(decay[id(p)] == 0.0 for n, p in named.items() if "LayerNorm" in n)


def test_a_model_trained_with_a_tail_learns_from_the_end_of_long_texts():
    """Texts whose label is in their last words, after more filler than the training length: cut to their
    start the two classes look alike; with a tail, training and scoring both see the end."""
    rng = np.random.default_rng(0)
    words = ["the", "meeting", "report", "figures", "schedule", "office", "budget", "team", "review", "notes"]
    endings = ["kind regards anna", "click here to claim your prize"]
    labels = rng.integers(0, 2, 160)
    texts = [" ".join(rng.choice(words, 60)) + " " + endings[y] for y in labels]
    data = LabelledTexts(texts, torch.tensor(labels))
    accuracy = {}
    for tail in (0, 8):
        config = TrainingConfig(
            epochs=3, batch_size=16, max_train_length=32, tail_tokens=tail, learning_rate=2e-3, vocab_size=300
        )
        torch.manual_seed(config.seed)
        bb = load_backbone(SCRATCH_BACKBONE, train_texts=texts, labels=["ham", "spam"], max_length=32, vocab_size=300)
        loss_fn = cross_entropy(labels, 2, torch.device("cpu"), balance_classes=False)
        train_classifier(bb.model, bb.tokenizer, data, data, loss_fn=loss_fn, config=config, device=torch.device("cpu"))
        logits = predict_logits(bb.model, bb.tokenizer, texts, 32, torch.device("cpu"), tail_tokens=tail)
        accuracy[tail] = float(np.mean(logits.argmax(axis=1) == labels))
    assert accuracy[8] == 1.0, accuracy
    assert accuracy[0] < 0.75, accuracy
