"""The spam detector: train, evaluate against the TF-IDF baseline, choose a threshold, export."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score

from ml_common.datasets import SMS_SOURCE, SMS_SPAM_CITATION, Example, Splits, stratified_split
from ml_common.extra_data import ExtraData
from ml_common.mail_corpus import HARD_HAM
from model_training.backbones import SPAM_BACKBONE, Backbone, config_for, load_backbone
from model_training.evaluation import (
    binary_metrics,
    choose_threshold,
    reliability,
    tfidf_baselines,
)
from model_training.independent import SPAM_INDEPENDENT, email_texts, read_independent_emails, score_spam, set_name
from model_training.mail_ham import generated_ham
from model_training.ngram import FOLDS, cross_fitted_probabilities, fit_char_ngram_model, soft_targets
from model_training.skeleton import Fitted, train_model
from model_training.trainer import (
    FINE_TUNING,
    LabelledTexts,
    TrainingConfig,
    TrainingHistory,
    cross_entropy,
    predict_logits,
    seed_everything,
    train_classifier,
)
from serving_common.char_ngrams import CharNgramModel, blended_logits
from serving_common.model_dir import NGRAMS_FILE, ModelMetadata
from serving_common.postprocess import softmax
from serving_common.tasks import SPAM

LABELS = ["ham", "spam"]
# What the spam model reads, in training and in serving alike: the subject and the start of the body, and
# the end of a longer one (``FINE_TUNING_CONFIG.tail_tokens``). Served at 256 tokens, the same model
# (trained at 128) scored worse on the validation e-mails (F1 0.940 against 0.967), and every token costs
# CPU time (docs/models.md).
SERVING_MAX_LENGTH = 128
# The default's generated business and transactional ham (``model_training.mail_ham``), added to the training
# split of the two corpora: about 5 % more training texts.
DEFAULT_GENERATED_HAM = 400
# From scratch: a 2,000-token vocabulary, not 8,000: on 3,174 training texts most of an 8,000-token BPE
# vocabulary is seen a handful of times, while smaller pieces are shared across messages. Over four
# seeds it lifted held-out ROC-AUC from 0.993 to 0.996 and F1 from 0.940 to 0.954 (docs/models.md).
SCRATCH_CONFIG = TrainingConfig(vocab_size=2000)
# Fine-tuned (the default): the encoder at 5e-5 and the head at ten times that (one rate of 1.5e-4 for both,
# ``FINE_TUNING``, left a mean SMS F1 of 0.958 over four splits against 0.963), at 128 training tokens: an
# SMS fits whole, an e-mail's subject and the start of its body do. The character n-gram teacher of the
# SMS-only default (``ngram_teacher_weight``) is off: on both sources it cost 90 s of a 15-minute budget
# and did not help (docs/models.md). Trained in bfloat16 where the processor has it (1.7x faster steps).
# A longer text is read by its first 94 tokens and its last 32 (``tail_tokens``; 84 % of the e-mails are
# longer than 128 tokens): over three training seeds on the default split, validation e-mail average
# precision 0.9907 against 0.9897 for the first 126 tokens alone, at the same cost (docs/models.md).
# Four layers for at most two epochs (``SPAM_BACKBONE``), not three for three: over three folds of the
# training and validation texts, SMS average precision 0.9827 against 0.9778, e-mail 0.9917 against 0.9913,
# a seventh fewer hard ham called spam, in 12 % less training time (docs/models.md).
# The verdict blends the encoder's log-odds half and half with a character n-gram logistic regression fitted on
# the same training split (``ngram_blend_weight``): on the default's validation split e-mail average precision
# 0.9969 against 0.9952, SMS 0.9958 against 0.9935, by a rule fixed before the run (docs/models.md).
FINE_TUNING_CONFIG = replace(
    FINE_TUNING,
    epochs=2,
    learning_rate=5e-5,
    head_learning_rate_factor=10.0,
    max_train_length=128,
    tail_tokens=32,
    mixed_precision=True,
    ngram_blend_weight=0.5,
)


def spam_ranking(logits: np.ndarray, labels: np.ndarray) -> float:
    """What early stopping keeps the best epoch by: average precision of the spam probability on validation.

    The validation loss is the wrong guide here: with few validation spam texts (56 for the SMS-only default,
    237 on both sources) a few confident mistakes outweigh a better ranking. It kept the first epoch on two of four splits (mean test F1 0.948, against
    0.952 by this score; docs/models.md). Average precision scores the ranking of the rare class the F1
    target is about, and needs no threshold.
    """
    return float(average_precision_score(labels, softmax(logits)[:, LABELS.index("spam")]))


def ranking_tolerance(labels: np.ndarray) -> float:
    """How far apart two epochs' ``spam_ranking`` must be for validation to tell them apart: one spam text's
    share of average precision (1/56 with 56 validation spam texts). Within it the later epoch is kept."""
    return 1.0 / max(int(np.sum(labels == LABELS.index("spam"))), 1)


@dataclass
class _Fitted:
    """An encoder fine-tuned on one training split, the character n-gram model blended with it (if any), and
    the decision threshold from that split's validation."""

    backbone: Backbone
    history: TrainingHistory
    threshold: float
    max_length: int
    tail_tokens: int
    device: torch.device
    backbone_name: str  # what load_backbone was asked for (cross-source runs load the same)
    ngrams: CharNgramModel | None = None
    ngram_weight: float = 0.0

    def scores(self, texts: list[str]) -> np.ndarray:
        """The spam probability as served (``serving_common.pipeline.TextPipeline``)."""
        bb = self.backbone
        logits = predict_logits(bb.model, bb.tokenizer, texts, self.max_length, self.device, self.tail_tokens)
        spam = LABELS.index("spam")
        if self.ngrams is not None:
            logits = blended_logits(logits, spam, self.ngrams.logits(texts), self.ngram_weight)
        return softmax(logits)[:, spam]


def _labels(examples: list[Example]) -> np.ndarray:
    return np.array([LABELS.index(ex.label) for ex in examples])


def _fit(
    splits: Splits, backbone: str, config: TrainingConfig, device: torch.device, desc: str, max_length: int
) -> _Fitted:
    """Fine-tune on ``splits.train``, keep the best epoch by validation, choose the threshold on validation."""
    texts = [ex.text for ex in splits.train]
    y_train, y_val = _labels(splits.train), _labels(splits.validation)
    seed_everything(config.seed)  # before the backbone: its head is initialised randomly
    bb = load_backbone(backbone, train_texts=texts, labels=LABELS, max_length=max_length, vocab_size=config.vocab_size)
    loss_fn = cross_entropy(y_train, len(LABELS), device, config.balance_classes)
    teacher = cross_fitted_probabilities(texts, y_train, config.seed) if config.ngram_teacher_weight > 0 else y_train
    targets = soft_targets(y_train, teacher, config.ngram_teacher_weight)
    validation = LabelledTexts([ex.text for ex in splits.validation], torch.tensor(y_val))
    history = train_classifier(
        bb.model,
        bb.tokenizer,
        LabelledTexts(texts, targets),
        validation,
        loss_fn=loss_fn,
        config=config,
        device=device,
        desc=desc,
        score=spam_ranking,
        tolerance=ranking_tolerance(y_val),
    )
    fitted = _Fitted(bb, history, 0.5, max_length, config.tail_tokens, device, backbone)
    if config.ngram_blend_weight > 0:
        fitted.ngrams = fit_char_ngram_model(texts, y_train, config.seed)
        fitted.ngram_weight = config.ngram_blend_weight
    fitted.threshold = choose_threshold(y_val, fitted.scores(validation.texts))
    return fitted


def _of_source(splits: Splits, source: str) -> Splits:
    """The same splits restricted to one source (what a model trained on that source alone would see)."""
    keep = [[ex for ex in part if ex.source == source] for part in (splits.train, splits.validation, splits.test)]
    return replace(splits, train=keep[0], validation=keep[1], test=keep[2])


def _sources(examples: list[Example]) -> list[str]:
    return sorted({ex.source for ex in examples if ex.source})


def per_source(test: list[Example], scores: np.ndarray, threshold: float) -> dict[str, dict]:
    """Held-out metrics per source, and the false-positive rate on the SpamAssassin hard ham."""
    y = _labels(test)
    result = {}
    for source in _sources(test):
        rows = np.array([ex.source == source for ex in test])
        if len(set(y[rows])) == 2:
            result[source] = binary_metrics(y[rows], scores[rows], threshold)
    hard = np.array([ex.group == HARD_HAM for ex in test])
    if hard.any():
        result["hard_ham"] = {
            "false_positive_rate": float(np.mean(scores[hard] >= threshold)),
            "false_positives": int(np.sum(scores[hard] >= threshold)),
            "support": int(hard.sum()),
        }
    return result


def cross_source(
    splits: Splits,
    backbone: str,
    config: TrainingConfig,
    device: torch.device,
    max_length: int,
    encoder_sources: Collection[str],
) -> list[dict]:
    """Trained on one source alone, tested on the other's test split: what training on both buys.
    TF-IDF + LinearSVC always; the encoder too when trained on a source in ``encoder_sources`` (each is a
    training run: SMS alone takes about a minute on 2 cores, e-mail alone most of the default's time)."""
    sources = _sources(splits.test)  # the corpora's (users' labelled rows train, never test)
    rows = []
    for trained_on in sources:
        alone = _of_source(splits, trained_on)
        for tested_on in sources:
            if tested_on == trained_on:
                continue
            test = _of_source(splits, tested_on).test
            y_test = _labels(test)
            row: dict = {"trained_on": trained_on, "tested_on": tested_on, "support": len(test)}
            _, svc = tfidf_baselines(
                [e.text for e in alone.train],
                _labels(alone.train),
                [],
                np.array([]),
                [e.text for e in test],
                y_test,
                config.seed,
                logistic=False,
            )
            svc.pop("scores")
            row["tfidf_svc"] = svc
            if trained_on in encoder_sources:
                fitted = _fit(alone, backbone, config, device, f"cross-source: {trained_on} only", max_length)
                row["encoder"] = binary_metrics(y_test, fitted.scores([e.text for e in test]), fitted.threshold)
            rows.append(row)
    return rows


@dataclass
class SpamSpec:
    """The spam task for the training skeleton: binary labels, a threshold chosen on validation, figures
    by source, against TF-IDF baselines and across sources."""

    examples: list[Example]
    max_length: int = SERVING_MAX_LENGTH
    cross_source_encoder: Collection[str] = (SMS_SOURCE,)
    extra: ExtraData | None = None  # users' labelled rows: training split only
    generated_ham: int = 0  # generated business and transactional mail (model_training.mail_ham): training split only
    task: str = SPAM.name
    labels: list[str] = field(default_factory=lambda: list(LABELS))
    card: str = "spam.md.j2"
    extra_record: dict | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        unknown = {ex.label for ex in self.examples} - set(LABELS)
        if unknown:
            raise ValueError(f"unexpected labels {sorted(unknown)}; a spam dataset uses {LABELS}")

    def split(self, seed: int) -> Splits:
        splits = stratified_split(self.examples, seed=seed)
        if self.extra is not None:
            splits, self.extra_record = self.extra.into_training(splits)
        if self.generated_ham:
            splits = replace(splits, train=[*splits.train, *generated_ham(self.generated_ham, seed)])
        return splits

    def fit(self, splits: Splits, backbone: str, config: TrainingConfig, device: torch.device, desc: str) -> Fitted:
        fitted = _fit(splits, backbone, config, device, desc, self.max_length)
        threshold = min(max(fitted.threshold, 0.01), 0.99)
        fields = {"decision_threshold": threshold, "positive_label": "spam", "ngram_weight": fitted.ngram_weight}
        files = {NGRAMS_FILE: fitted.ngrams.to_bytes()} if fitted.ngrams is not None else {}
        return Fitted(fitted.backbone, fitted.history, fields, state=fitted, files=files)

    def evaluate(
        self, fitted: Fitted, splits: Splits, metadata: ModelMetadata, config: TrainingConfig, device: torch.device
    ) -> dict:
        model: _Fitted = fitted.state
        test_texts, y_test = [ex.text for ex in splits.test], _labels(splits.test)
        test_scores = model.scores(test_texts)
        held_out = binary_metrics(y_test, test_scores, model.threshold)
        # Top-label reliability, as for intent: the probability of the likelier class against how often it is right.
        calibration = reliability(np.maximum(test_scores, 1 - test_scores), (test_scores >= 0.5) == (y_test == 1))
        emails = read_independent_emails()
        email_text = email_texts(emails)
        baseline, svc = tfidf_baselines(
            [e.text for e in splits.train],
            _labels(splits.train),
            [e.text for e in splits.validation],
            _labels(splits.validation),
            test_texts,
            y_test,
            config.seed,
            extra_texts=email_text,
        )
        svc_scores = np.array(svc.pop("scores"))
        independent = score_spam(model.scores(email_text), emails, model.threshold)
        independent["baseline_tfidf_svc"] = score_spam(np.array(svc.pop("extra_scores")), emails, 0.0)
        baseline.pop("scores")
        crossed = cross_source(splits, model.backbone_name, config, device, self.max_length, self.cross_source_encoder)
        return {
            "held_out": held_out,
            "by_source": per_source(splits.test, test_scores, model.threshold),
            "baseline_tfidf": baseline,
            "baseline_tfidf_svc": svc,
            "baseline_tfidf_svc_by_source": per_source(splits.test, svc_scores, 0.0),
            "cross_source": crossed,
            "f1_gain_over_baseline": held_out["f1"] - baseline["f1"],
            "f1_gain_over_svc": held_out["f1"] - svc["f1"],
            "roc_auc_gain_over_baseline": held_out["roc_auc"] - baseline["roc_auc"],
            "confidence_reliability": {"split": "test", **calibration},
            "independent": [{"set": set_name(SPAM_INDEPENDENT), **independent}],
        }

    def dataset_record(self, splits: Splits) -> dict:
        return {
            "sizes_by_stratum": {
                part: dict(sorted(Counter("/".join(ex.stratum) for ex in getattr(splits, part)).items()))
                for part in ("train", "validation", "test")
            },
            "extra_training_data": self.extra_record,
            "generated_ham": self.generated_ham,
        }

    def card_helpers(self) -> dict[str, Callable[..., str]]:
        return {
            "by_source_rows": by_source_rows,
            "cross_source_rows": cross_source_rows,
            "training_summary": _training_summary,
        }


def train_spam_model(
    examples: list[Example],
    out_dir: Path,
    *,
    name: str = "spam-detector",
    backbone: str = SPAM_BACKBONE,
    config: TrainingConfig | None = None,
    dataset_source: str = SMS_SPAM_CITATION,
    device: torch.device | None = None,
    version: str = "auto",
    max_length: int = SERVING_MAX_LENGTH,
    cross_source_encoder: Collection[str] = (SMS_SOURCE,),
    extra: ExtraData | None = None,
    generated_ham: int = 0,
) -> ModelMetadata:
    """Train, evaluate (overall, per source, against TF-IDF baselines, across sources) and export.
    ``extra``: users' labelled rows, and ``generated_ham`` generated business and transactional messages
    (``model_training.mail_ham``), both added to the training split only."""
    return train_model(
        SpamSpec(examples, max_length, cross_source_encoder, extra, generated_ham=generated_ham),
        out_dir,
        name=name,
        backbone=backbone,
        config=config or config_for(backbone, SCRATCH_CONFIG, FINE_TUNING_CONFIG),
        dataset_source=dataset_source,
        device=device,
        version=version,
    )


def _training_summary(t: dict) -> str:
    head = t["learning_rate"] * t["head_learning_rate_factor"]
    teacher = (
        f"targets {1 - t['ngram_teacher_weight']:g} the label, {t['ngram_teacher_weight']:g} the probability of a "
        f"character n-gram logistic regression cross-fitted on the training texts ({FOLDS} folds: no text scored "
        "by a model that saw it)"
        if t["ngram_teacher_weight"] > 0
        else "targets the labels"
    )
    blend = t.get("ngram_blend_weight", 0.0)
    blended = (
        f" The verdict's log-odds are {blend:g} those of a character n-gram logistic regression fitted on the same "
        f"training split (`{NGRAMS_FILE}`, scored by the feature transformer) and {1 - blend:g} the encoder's; the "
        "threshold is chosen on that blend."
        if blend > 0
        else ""
    )
    return (
        f"Learning rate {t['learning_rate']:g} (head {head:g}), {t['epochs']} epochs at most, "
        f"{t['max_train_length']} training tokens; {teacher}. Validation average precision by epoch: "
        f"{t['validation_score']}; epoch kept: {t['best_epoch']} (an epoch within one validation spam text's share "
        f"of the best counts as good as the best, and the later such epoch is kept).{blended}"
    )


def _row(name: str, r: dict) -> str:
    return (
        f"| {name} | {r['f1']:.4f} | {r['precision']:.4f} | {r['recall']:.4f} | {r['roc_auc']:.4f} | {r['support']} |"
    )


def by_source_rows(m: dict) -> str:
    lines = ["| source, model | F1 (spam) | precision | recall | ROC-AUC | texts |", "|---|---|---|---|---|---|"]
    for source in (s for s in m["by_source"] if s != "hard_ham"):
        lines.append(_row(f"{source}, this model", m["by_source"][source]))
        svc = m["baseline_tfidf_svc_by_source"].get(source)
        if svc:
            lines.append(_row(f"{source}, TF-IDF + LinearSVC", svc))
    for name, part in (("this model", m["by_source"]), ("TF-IDF + LinearSVC", m["baseline_tfidf_svc_by_source"])):
        hard = part.get("hard_ham")
        if hard:
            lines.append(
                f"\nSpamAssassin hard ham called spam, {name}: {hard['false_positives']} of {hard['support']} "
                f"({hard['false_positive_rate']:.1%})."
            )
    return "\n".join(lines)


def cross_source_rows(rows: list[dict]) -> str:
    if not rows:
        return "One source only."
    lines = [
        "| trained on | tested on | model | F1 (spam) | precision | recall | ROC-AUC | texts |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for key, name in (("encoder", "this model's recipe"), ("tfidf_svc", "TF-IDF + LinearSVC")):
            if key in r:
                lines.append(f"| {r['trained_on']} | {r['tested_on']} " + _row(name, r[key]))
    return "\n".join(lines)
