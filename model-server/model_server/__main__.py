"""Entrypoint: ``python -m model_server`` accepts KServe's standard flags plus the model server's own."""

from __future__ import annotations

import argparse
import functools
import logging
import os

# PyTorch's OpenMP threads sleep between passes instead of spinning (set before torch loads OpenMP; the
# environment's own OMP_WAIT_POLICY wins). Serving the defaults in PyTorch on a 2-core CPU, spinning took about a
# quarter more of the server's CPU for no more throughput, and its p95 rose up to 2x (docs/benchmarks.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from kserve.model import BaseKServeModel

from ml_common.runtime import RUNTIMES, Classifier, load_classifier, prepare_runtime, resolve_runtime
from model_server.binary_v2 import BinaryInferMiddleware
from model_server.predictor import ClassifierPredictor
from model_server.settings import ModelServerSettings
from serving_common.kserve_server import Component, on_off, serve, served_names
from serving_common.kserve_server import build_parser as kserve_parser
from serving_common.model_dir import ModelMetadata, read_metadata
from serving_common.settings import load_settings

log = logging.getLogger("model_server")


def build_parser() -> argparse.ArgumentParser:
    parser = kserve_parser("KServe predictor for text classifiers")
    parser.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"])
    parser.add_argument("--dtype", default=None, choices=["auto", "float32", "bfloat16", "float16"])
    parser.add_argument("--torch_threads", default=None, type=int)
    parser.add_argument("--batching", default=None, type=on_off, metavar="{on,off}")
    parser.add_argument("--max_batch_size", default=None, type=int)
    parser.add_argument("--max_batch_wait_ms", default=None, type=float)
    parser.add_argument("--max_queue_rows", default=None, type=int)
    parser.add_argument("--batch_when_idle", default=None, type=on_off, metavar="{on,off}")
    parser.add_argument("--max_batch_tokens", default=None, type=int)
    parser.add_argument("--runtime", default=None, choices=RUNTIMES)
    parser.add_argument("--compile", default=None, type=on_off, metavar="{on,off}")
    parser.add_argument("--static_shapes", default=None, choices=["auto", "on", "off"])
    parser.add_argument("--pipeline_depth", default=None, type=int)
    return parser


def main(argv: list[str] | None = None) -> None:
    args, _ = build_parser().parse_known_args(argv)
    settings = load_settings(ModelServerSettings, args)
    # PyTorch is imported only if it runs the model (runtime 'torch'); int8 ONNX Runtime, the CPU default, serves
    # without it (ml_common.runtime).
    runtime = resolve_runtime(settings.runtime, settings.device, settings.compile)
    log.info("runtime %s", runtime)
    prepare_runtime(settings.model_dirs, runtime, settings.onnx_cache_dir)

    def load(model_dir: str) -> Classifier:
        return load_classifier(
            model_dir,
            runtime,
            settings.onnx_cache_dir,
            device=settings.device,
            dtype=settings.dtype,
            threads=settings.torch_threads,
            compile_model=settings.compile,
            spinning=settings.ort_spinning,
        )

    metadatas = [read_metadata(d) for d in settings.model_dirs]
    models: list[tuple[BaseKServeModel, ModelMetadata]] = []
    predictors = {}
    for model_dir, metadata, name in zip(
        settings.model_dirs, metadatas, served_names(metadatas, settings.model_name), strict=True
    ):
        predictor = ClassifierPredictor(name, functools.partial(load, model_dir), settings)
        predictor.load()
        predictors[name] = predictor
        models.append((predictor, metadata))
    # Binary v2 calls (the transformer's) take the lean path; everything else goes to KServe's handlers.
    lean_path = (BinaryInferMiddleware, {"predictors": predictors})
    component = Component(settings, models, middleware=[lean_path])
    # One process: it owns the weights and the batch queue (ModelServerSettings refuses --workers > 1).
    serve(settings, lambda: component)


if __name__ == "__main__":
    main()
