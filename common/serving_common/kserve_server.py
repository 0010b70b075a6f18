"""What the two KServe components (feature transformer, model server) share about being served.

- KServe's ``RESTServer`` always binds 0.0.0.0; locally and in tests everything binds loopback, so
  the host is a flag here.
- The flag set is KServe's own (``kserve.model_server.parser``) plus ours, so the arguments the
  KServe controller passes keep working. ``--model_dir`` may repeat: one process can host several
  models (the local stack does; in a cluster each InferenceService gets one).
- ``GET /v1/models/{name}/metadata`` returns the model directory's metadata (name, version, task,
  labels): KServe's v2 metadata has no version, and the gateway's model list needs it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import kserve
from fastapi.responses import JSONResponse
from kserve.errors import ModelNotFound
from kserve.model_server import app as kserve_app
from kserve.model_server import parser as kserve_parser

from serving_common.errors import PlatformError
from serving_common.http_errors import platform_error_handler
from serving_common.model_dir import ModelMetadata
from serving_common.schemas import ModelInfo


def build_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(parents=[kserve_parser], description=description)
    # KServe defaults --model_name to "model"; ours default to the model directory's metadata.
    parser.set_defaults(model_name=None)
    parser.add_argument("--http_host", default="0.0.0.0", help="address the REST server binds")
    parser.add_argument(
        "--model_dir", action="append", default=None, help="model directory (default /mnt/models); may repeat"
    )
    return parser


def served_names(metadatas: Sequence[ModelMetadata], model_name: str | None) -> list[str]:
    """Names on the inference URLs: the metadata's, or ``--model_name`` when one model is served."""
    if model_name and len(metadatas) > 1:
        raise SystemExit("--model_name applies to a single --model_dir; each model keeps its metadata name")
    return [model_name] if model_name else [m.name for m in metadatas]


class ModelServer(kserve.ModelServer):
    def __init__(self, http_host: str = "0.0.0.0", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.http_host = http_host
        self.metadata: dict[str, ModelMetadata] = {}

    def start_models(self, models: Sequence[tuple[kserve.Model, ModelMetadata]]) -> None:
        self.metadata = {model.name: metadata for model, metadata in models}
        kserve_app.add_api_route("/v1/models/{model_name}/metadata", self._model_metadata, methods=["GET"])
        # Our typed errors (e.g. an overloaded queue: 503 + Retry-After) leave in the platform's error shape.
        kserve_app.add_exception_handler(PlatformError, platform_error_handler)
        self.start([model for model, _ in models])

    async def _model_metadata(self, model_name: str) -> JSONResponse:
        metadata = self.metadata.get(model_name)
        if metadata is None:
            raise ModelNotFound(model_name)
        info = ModelInfo(**metadata.model_dump(include=set(ModelInfo.model_fields)))
        return JSONResponse({**info.model_dump(), "name": model_name})

    async def _serve(self) -> None:
        # start() has built the uvicorn config but not started it yet: the bind host can still change.
        if self._rest_server is not None:
            self._rest_server.config.host = self.http_host
        await super()._serve()
