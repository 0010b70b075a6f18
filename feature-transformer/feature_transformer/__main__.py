"""Entrypoint: ``python -m feature_transformer --predictor_host HOST:PORT --predictor_protocol v2 ...``."""

from __future__ import annotations

import argparse
import logging
import sys

from fastapi import FastAPI
from kserve.model import BaseKServeModel

from feature_transformer import metrics
from feature_transformer.settings import TransformerSettings
from feature_transformer.transformer import TextTransformer
from serving_common.inference_log.writer import InferenceLogWriter, WriterHooks
from serving_common.kserve_server import Component, build_parser, on_off, serve, served_names, worker_app
from serving_common.model_dir import METADATA_FILE, TOKENIZER_FILE, ModelMetadata, validate_model_dir
from serving_common.pipeline import TextPipeline
from serving_common.settings import load_settings

log = logging.getLogger("feature_transformer")


def _written(rows: int, seconds: float) -> None:
    metrics.LOG_ROWS_WRITTEN.inc(rows)
    metrics.LOG_WRITE_SECONDS.observe(seconds)


def inference_log_writer(settings: TransformerSettings) -> InferenceLogWriter | None:
    if not settings.inference_log:
        log.info("inference log off")
        return None
    log.info("inference log: %s (environment=%s)", settings.inference_log_url, settings.environment)
    return InferenceLogWriter(
        settings.inference_log_url,
        environment=settings.environment,
        flush_rows=settings.inference_log_flush_rows,
        flush_seconds=settings.inference_log_flush_seconds,
        max_buffered_rows=settings.inference_log_max_buffered_rows,
        hooks=WriterHooks(
            dropped=lambda reason, rows: metrics.LOG_ROWS_DROPPED.labels(reason).inc(rows),
            written=_written,
            buffered=metrics.LOG_BUFFERED_ROWS.set,
            failed=metrics.LOG_WRITE_FAILURES.inc,
        ),
    )


def transformer_parser() -> argparse.ArgumentParser:
    parser = build_parser("KServe transformer: features + tokenisation in, verdicts out")
    parser.add_argument("--environment", default=None, help="environment served (the inference log's partition)")
    parser.add_argument("--inference_log_url", default=None, help="inference log location (directory or fsspec URL)")
    parser.add_argument(
        "--inference_log", type=on_off, default=None, metavar="{on,off}", help="record every prediction"
    )
    return parser


def settings_from(argv: list[str] | None) -> TransformerSettings:
    args, _ = transformer_parser().parse_known_args(argv)
    return load_settings(TransformerSettings, args)


def build(settings: TransformerSettings) -> Component:
    """The transformer component: its models, the inference log's writer and what stops them."""
    # The transformer needs only the tokenizer and metadata (and a blended n-gram model), not the weights.
    metadatas = [validate_model_dir(d, required=(METADATA_FILE, TOKENIZER_FILE)) for d in settings.model_dirs]
    writer = inference_log_writer(settings)
    models: list[tuple[BaseKServeModel, ModelMetadata]] = []
    transformers = []
    for model_dir, metadata, name in zip(
        settings.model_dirs, metadatas, served_names(metadatas, settings.model_name), strict=True
    ):
        transformer = TextTransformer(name, TextPipeline.from_model_dir(model_dir, metadata), settings, writer)
        transformers.append(transformer)
        models.append((transformer, metadata))
        log.info("serving %s %s (%s) via predictor %s", name, metadata.version, metadata.task, settings.predictor_host)
    # On SIGTERM the server first answers what it accepted, then the log writes what it holds.
    return Component(
        settings,
        models,
        on_stopped=[*(t.aclose for t in transformers), *([writer.close] if writer else [])],
        predictor_config=settings.predictor_config(),
    )


def create_app() -> FastAPI:
    """One worker's application when ``--workers`` > 1 (each worker process builds its own)."""
    return worker_app(lambda: build(settings_from(sys.argv[1:])))


def main(argv: list[str] | None = None) -> None:
    settings = settings_from(argv)
    serve(settings, lambda: build(settings), factory="feature_transformer.__main__:create_app")


if __name__ == "__main__":
    main()
