"""``python -m model_training``: train models into model directories.

python -m model_training train --data FILE --out DIR [--backbone ID|DIR|deberta-v2-small]
python -m model_training defaults --models-dir models   # what `make models` / `make run` call
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ml_common.datasets import SMS_SPAM_CITATION, load_sms_spam, read_labelled_file
from model_training.backbones import SCRATCH_BACKBONE, learning_rate_for
from model_training.defaults import ensure_default_models, report
from model_training.spam import DEFAULT_CONFIG as SPAM_CONFIG
from serving_common.logging import configure_logging

log = logging.getLogger("model_training")
LEARNING_RATE_HELP = "default: the from-scratch rate for deberta-v2-small, 5e-5 to fine-tune a pretrained backbone"


def _train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from model_training.spam import train_spam_model

    examples = read_labelled_file(args.data, args.text_column, args.label_column) if args.data else load_sms_spam()
    if args.limit:
        examples = examples[: args.limit]
    config = replace(
        SPAM_CONFIG,
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        vocab_size=args.vocab_size,
        learning_rate=learning_rate_for(args.backbone, SPAM_CONFIG.learning_rate, args.learning_rate),
    )
    metadata = train_spam_model(
        examples,
        Path(args.out),
        name=args.name,
        backbone=args.backbone,
        config=config,
        dataset_source=str(args.data) if args.data else SMS_SPAM_CITATION,
    )
    print(f"wrote {args.out} ({metadata.name} {metadata.version})")
    return 0


def _train_intent(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ml_common.datasets import INTENT_PROMPTS_PATH, read_intent_prompts
    from model_training.intent import DEFAULT_CONFIG, train_intent_model

    config = replace(
        DEFAULT_CONFIG,
        epochs=args.epochs or DEFAULT_CONFIG.epochs,
        learning_rate=learning_rate_for(args.backbone, DEFAULT_CONFIG.learning_rate, args.learning_rate),
    )
    metadata = train_intent_model(
        read_intent_prompts(args.data or INTENT_PROMPTS_PATH), Path(args.out), backbone=args.backbone, config=config
    )
    print(f"wrote {args.out} ({metadata.name} {metadata.version})")
    return 0


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    parser = argparse.ArgumentParser(
        prog="model_training", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a spam classifier from a labelled file")
    train.add_argument("--data", help="CSV/TSV/JSONL file; default: the SMS Spam Collection from its package")
    train.add_argument("--text-column", default="text")
    train.add_argument("--label-column", default="label")
    train.add_argument("--out", required=True, help="model directory to write")
    train.add_argument("--name", default="spam-detector")
    train.add_argument(
        "--backbone",
        default=SCRATCH_BACKBONE,
        help="hub id (e.g. microsoft/deberta-v3-base), local checkpoint dir, or deberta-v2-small",
    )
    train.add_argument("--epochs", type=int, default=SPAM_CONFIG.epochs)
    train.add_argument("--batch-size", type=int, default=SPAM_CONFIG.batch_size)
    train.add_argument("--seed", type=int, default=SPAM_CONFIG.seed)
    train.add_argument(
        "--vocab-size", type=int, default=SPAM_CONFIG.vocab_size, help="tokenizer vocabulary of a from-scratch backbone"
    )
    train.add_argument("--learning-rate", type=float, default=None, help=LEARNING_RATE_HELP)
    train.add_argument("--limit", type=int, default=0, help="train on the first N rows only (smoke tests)")
    intent = sub.add_parser("train-intent", help="train the intent classifier from the project's prompt dataset")
    intent.add_argument("--data", type=Path, default=None, help="JSONL with text, intent, complexity")
    intent.add_argument("--out", required=True)
    intent.add_argument("--backbone", default=SCRATCH_BACKBONE)
    intent.add_argument("--epochs", type=int, default=None)
    intent.add_argument("--learning-rate", type=float, default=None, help=LEARNING_RATE_HELP)
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
