"""Entrypoint: ``python -m feature_transformer --predictor_host HOST:PORT --predictor_protocol v2 ...``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from feature_transformer.settings import TransformerSettings
from feature_transformer.transformer import TextTransformer
from serving_common.kserve_server import ModelServer, build_parser, served_names
from serving_common.model_dir import METADATA_FILE, TOKENIZER_FILE, validate_model_dir
from serving_common.tokenization import TextEncoder

log = logging.getLogger("feature_transformer")


def settings_from_args(args: argparse.Namespace) -> TransformerSettings:
    overrides = {"model_dirs": args.model_dir, "model_name": args.model_name}
    return TransformerSettings(**{k: v for k, v in overrides.items() if v is not None})


def main(argv: list[str] | None = None) -> None:
    args, _ = build_parser("KServe transformer: features + tokenisation in, verdicts out").parse_known_args(argv)
    settings = settings_from_args(args)
    # The transformer needs only the tokenizer and metadata, not the weights.
    metadatas = [validate_model_dir(d, required=(METADATA_FILE, TOKENIZER_FILE)) for d in settings.model_dirs]
    models = []
    for model_dir, metadata, name in zip(
        settings.model_dirs, metadatas, served_names(metadatas, settings.model_name), strict=True
    ):
        encoder = TextEncoder.from_file(Path(model_dir) / TOKENIZER_FILE, metadata.max_length)
        models.append((TextTransformer(name, metadata, encoder), metadata))
        log.info("serving %s %s (%s) via predictor %s", name, metadata.version, metadata.task, args.predictor_host)
    ModelServer(http_host=args.http_host).start_models(models)


if __name__ == "__main__":
    main()
