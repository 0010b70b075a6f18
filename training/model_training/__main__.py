"""``python -m model_training``: train models into model directories.

python -m model_training train --data FILE --out DIR [--backbone deberta-v2-minilm|deberta-v2-small|ID|DIR]
python -m model_training train-intent --out DIR [--backbone ...]
python -m model_training defaults --models-dir models   # what `make models` / `make run` call
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

from ml_common.datasets import (
    SMS_SPAM_CITATION,
    SPAM_CORPORA_CITATION,
    load_sms_spam,
    load_spam_corpora,
    read_labelled_file,
)
from ml_common.extra_data import ExtraData
from ml_common.mail_corpus import CITATION as SPAMASSASSIN_CITATION
from ml_common.mail_corpus import load_spamassassin
from model_training.backbones import DEFAULT_BACKBONE, MINILM_BACKBONE, SCRATCH_BACKBONE, SPAM_BACKBONE, config_for
from model_training.defaults import ensure_default_models, report
from model_training.skeleton import check_tail_tokens
from model_training.spam import DEFAULT_GENERATED_HAM
from model_training.spam import SERVING_MAX_LENGTH as SPAM_MAX_LENGTH
from model_training.trainer import FINE_TUNING, TrainingConfig
from serving_common.logging import configure_logging

log = logging.getLogger("model_training")
LEARNING_RATE_HELP = (
    "the encoder's; default: 5e-5 with the head at 10x (spam) or 1.5e-4 (intent) to fine-tune a pretrained "
    "backbone, the task's own rate from scratch"
)


def _config(args: argparse.Namespace, scratch: TrainingConfig, fine_tuning: TrainingConfig) -> TrainingConfig:
    """The backbone's default settings for the task (``config_for``), with the flags that were given."""
    flags = (
        "epochs",
        "batch_size",
        "seed",
        "vocab_size",
        "learning_rate",
        "ngram_teacher_weight",
        "ngram_blend_weight",
        "tail_tokens",
    )
    given = {f: getattr(args, f, None) for f in flags}
    defaults = config_for(args.backbone, scratch, fine_tuning)
    return replace(defaults, **{f: v for f, v in given.items() if v is not None})


def _train(args: argparse.Namespace) -> int:
    from model_training.spam import FINE_TUNING_CONFIG, LABELS, SCRATCH_CONFIG, train_spam_model

    config = _config(args, SCRATCH_CONFIG, FINE_TUNING_CONFIG)
    check_tail_tokens(config, args.max_length)  # before the corpora are read (about 10 s)
    if args.data:
        examples, source = read_labelled_file(args.data, args.text_column, args.label_column), str(args.data)
    elif args.sources == ["sms"]:
        examples, source = load_sms_spam(), SMS_SPAM_CITATION
    elif args.sources == ["email"]:
        examples, source = load_spamassassin(), SPAMASSASSIN_CITATION
    else:
        examples, source = load_spam_corpora(), SPAM_CORPORA_CITATION
    if args.limit:
        examples = examples[: args.limit]
    extra = ExtraData.read(args.extra_data, LABELS) if args.extra_data else None
    # The default recipe's generated ham belongs with the default data, the two corpora together.
    default_generated = DEFAULT_GENERATED_HAM if source == SPAM_CORPORA_CITATION else 0
    metadata = train_spam_model(
        examples,
        Path(args.out),
        name=args.name,
        backbone=args.backbone,
        config=config,
        dataset_source=source,
        max_length=args.max_length,
        cross_source_encoder=args.cross_source_encoder,
        extra=extra,
        generated_ham=args.generated_ham if args.generated_ham is not None else default_generated,
    )
    print(f"wrote {args.out} ({metadata.name} {metadata.version})")
    return 0


def _train_intent(args: argparse.Namespace) -> int:
    from ml_common.datasets import INTENT_PROMPTS_PATH, read_intent_prompts
    from model_training.intent import SCRATCH_CONFIG, train_intent_model

    metadata = train_intent_model(
        read_intent_prompts(args.data or INTENT_PROMPTS_PATH),
        Path(args.out),
        backbone=args.backbone,
        config=_config(args, SCRATCH_CONFIG, FINE_TUNING),
    )
    print(f"wrote {args.out} ({metadata.name} {metadata.version})")
    return 0


def _add_training_flags(parser: argparse.ArgumentParser, backbone: str) -> None:
    """What every training command takes; a flag left out keeps the backbone's default."""
    parser.add_argument(
        "--backbone",
        default=backbone,
        help=f"{MINILM_BACKBONE} (pretrained; {MINILM_BACKBONE}-l<N> keeps its bottom N layers), {SCRATCH_BACKBONE} "
        "(from scratch), a hub id (e.g. microsoft/deberta-v3-base) or a local checkpoint directory; "
        f"default {backbone}",
    )
    parser.add_argument("--epochs", type=int, default=None, help="at most this many (early stopping on validation)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None, help="sets the split and the initialisation")
    parser.add_argument("--vocab-size", type=int, default=None, help="tokenizer vocabulary of a from-scratch backbone")
    parser.add_argument("--learning-rate", type=float, default=None, help=LEARNING_RATE_HELP)


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    parser = argparse.ArgumentParser(
        prog="model_training", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a spam classifier from a labelled file")
    train.add_argument(
        "--data", help="CSV/TSV/JSONL file; default: the SMS Spam Collection and the SpamAssassin corpus (--sources)"
    )
    train.add_argument(
        "--sources",
        nargs="+",
        choices=["sms", "email"],
        default=["sms", "email"],
        help="which default corpora to train on (without --data)",
    )
    train.add_argument(
        "--max-length", type=int, default=SPAM_MAX_LENGTH, help="tokens the model reads, in training and serving"
    )
    train.add_argument(
        "--tail-tokens",
        type=int,
        default=None,
        help="of a longer text, the tokens read from its end, the rest from its start (stored in metadata.json, "
        "so serving cuts alike); default: the recipe's",
    )
    train.add_argument(
        "--cross-source-encoder",
        nargs="*",
        choices=["sms", "email"],
        default=["sms"],
        help="train the encoder on each named source alone, tested on the other (TF-IDF always is); "
        "'email' takes most of a full training run",
    )
    train.add_argument(
        "--extra-data",
        help="users' labelled rows (make labelled-data's Parquet export, a path or URL), added to the training "
        "split only; the model card says how many were used",
    )
    train.add_argument(
        "--generated-ham",
        type=int,
        default=None,
        help="generated business and transactional messages added to the training split only "
        f"(model_training.mail_ham; default: {DEFAULT_GENERATED_HAM} with both corpora, as make models, else 0)",
    )
    train.add_argument("--text-column", default="text")
    train.add_argument("--label-column", default="label")
    train.add_argument("--out", required=True, help="model directory to write")
    train.add_argument("--name", default="spam-detector")
    _add_training_flags(train, SPAM_BACKBONE)
    train.add_argument(
        "--ngram-teacher-weight",
        type=float,
        default=None,
        help="share of a cross-fitted character n-gram model's probability in the training targets (default 0)",
    )
    train.add_argument(
        "--ngram-blend-weight",
        type=float,
        default=None,
        help="share of a character n-gram model's log-odds in the served verdict, the encoder's the rest "
        "(default: 0.5 fine-tuning a pretrained backbone, 0 from scratch; 0 serves the encoder alone)",
    )
    train.add_argument("--limit", type=int, default=0, help="train on the first N rows only (smoke tests)")
    intent = sub.add_parser("train-intent", help="train the intent classifier from the project's prompt dataset")
    intent.add_argument("--data", type=Path, default=None, help="JSONL with text, intent, complexity")
    intent.add_argument("--out", required=True)
    _add_training_flags(intent, DEFAULT_BACKBONE)
    sub.add_parser("intent-data", help="regenerate common/ml_common/data/intent_prompts.jsonl (deterministic)")
    defaults = sub.add_parser("defaults", help="build the default models when missing")
    defaults.add_argument("--models-dir", default="models")
    args = parser.parse_args(argv)
    if args.command == "train":
        return _train(args)
    if args.command == "train-intent":
        return _train_intent(args)
    if args.command == "intent-data":
        from model_training.intent_data import write_dataset

        print(f"wrote {write_dataset()}")
        return 0
    for path in ensure_default_models(Path(args.models_dir)):
        print(f"ready: {report(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
