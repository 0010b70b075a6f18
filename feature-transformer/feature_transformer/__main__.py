"""Entrypoint: ``python -m feature_transformer --predictor_host HOST:PORT --predictor_protocol v2 ...``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from feature_transformer.settings import TransformerSettings
from feature_transformer.transformer import EmailTransformer
from serving_common.kserve_server import ModelServer, build_parser
from serving_common.model_dir import METADATA_FILE, TOKENIZER_FILE, validate_model_dir
from serving_common.tokenization import TextEncoder

log = logging.getLogger("feature_transformer")


def settings_from_args(args: argparse.Namespace) -> TransformerSettings:
    fields = ("model_dir", "model_name")
    return TransformerSettings(**{f: getattr(args, f) for f in fields if getattr(args, f, None) is not None})


def main(argv: list[str] | None = None) -> None:
    parser = build_parser("KServe transformer: features + tokenisation in, spam verdicts out")
    parser.add_argument("--model_dir", default=None, help="model directory (default /mnt/models)")
    args, _ = parser.parse_known_args(argv)
    settings = settings_from_args(args)
    # The transformer needs only the tokenizer and metadata, not the weights.
    metadata = validate_model_dir(settings.model_dir, required=(METADATA_FILE, TOKENIZER_FILE))
    encoder = TextEncoder.from_file(Path(settings.model_dir) / TOKENIZER_FILE, metadata.max_length)
    transformer = EmailTransformer(settings.model_name or metadata.name, metadata, encoder)
    log.info("serving %s %s via predictor %s", transformer.name, metadata.version, args.predictor_host)
    ModelServer(http_host=args.http_host).start([transformer])


if __name__ == "__main__":
    main()
