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
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence

import kserve
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kserve import errors as kserve_errors
from kserve.errors import ModelNotFound
from kserve.model_server import app as kserve_app
from kserve.model_server import parser as kserve_parser

from serving_common.errors import PlatformError
from serving_common.http_errors import (
    error_response,
    platform_error_handler,
    unhandled_error_handler,
    validation_error_handler,
)
from serving_common.http_limits import BodyLimitMiddleware, HttpLimitSettings
from serving_common.model_dir import ModelMetadata
from serving_common.schemas import ModelInfo

log = logging.getLogger(__name__)


def on_off(value: str) -> bool:
    """An argparse ``type`` for switches spelled ``on``/``off`` (the manifests' and Makefile's spelling)."""
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, got {value!r}")
    return value == "on"


def build_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(parents=[kserve_parser], description=description)
    # KServe defaults --model_name to "model"; ours default to the model directory's metadata.
    parser.set_defaults(model_name=None)
    # KServe logs four lines per request (latency, CPU and wall timings, access) by default; at thousands
    # of requests a second that costs more than the hop itself. Metrics carry the same figures; the flag
    # turns the lines back on for debugging.
    parser.set_defaults(enable_latency_logging=False)
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
    def __init__(
        self,
        http_host: str = "0.0.0.0",
        on_stopped: Sequence[Callable[[], Awaitable[None] | None]] = (),
        request_logs: bool = False,
        http_limits: HttpLimitSettings | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(enable_latency_logging=request_logs, **kwargs)
        self.http_limits = http_limits or HttpLimitSettings()
        if not request_logs:
            # KServe's timing middleware and uvicorn's access log write at INFO on these loggers.
            for name in ("kserve.trace", "uvicorn.access"):
                logging.getLogger(name).setLevel(logging.WARNING)
        self.http_host = http_host
        self.on_stopped = list(on_stopped)  # run once the servers have stopped and answered everything
        self.metadata: dict[str, ModelMetadata] = {}

    def start_models(self, models: Sequence[tuple[kserve.Model, ModelMetadata]]) -> None:
        self.metadata = {model.name: metadata for model, metadata in models}
        kserve_app.add_api_route("/v1/models/{model_name}/metadata", self._model_metadata, methods=["GET"])
        # Direct callers inside the cluster meet the same body bounds as the gateway's callers.
        kserve_app.add_middleware(
            BodyLimitMiddleware,
            max_body_bytes=self.http_limits.max_body_bytes,
            body_timeout_seconds=self.http_limits.body_timeout_seconds,
        )
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
            for option, value in self.http_limits.uvicorn_options().items():
                setattr(self._rest_server.config, option, value)
            kserve_handlers = self._rest_server._add_exception_handlers

            def add_handlers(app: FastAPI) -> None:
                kserve_handlers(app)
                install_kserve_error_handlers(app)  # after KServe's own, so ours win

            self._rest_server._add_exception_handlers = add_handlers
        try:
            await super()._serve()
        finally:
            for callback in self.on_stopped:
                result = callback()
                if inspect.isawaitable(result):
                    await result


# KServe's exceptions and what they mean in the platform's error shape: (status, code, retry after).
_KSERVE_ERRORS: dict[type[Exception], tuple[int, str, int | None]] = {
    kserve_errors.InvalidInput: (400, "invalid_input", None),
    kserve_errors.ModelNotFound: (404, "model_not_found", None),
    kserve_errors.ModelNotReady: (503, "model_not_ready", 1),
    kserve_errors.ServerNotReady: (503, "server_not_ready", 1),
    kserve_errors.ServerNotLive: (503, "server_not_live", 1),
    kserve_errors.UnsupportedProtocol: (501, "unsupported_protocol", None),
    kserve_errors.InferenceError: (500, "inference_error", None),
    NotImplementedError: (501, "not_implemented", None),
}


def describe_error(exc: Exception) -> tuple[int, str, int | None]:
    """(status, code, retry-after) of any error a KServe component raises: the same table the
    exception handlers use, for paths served below FastAPI (the model-server's binary fast path)."""
    if isinstance(exc, PlatformError):
        return exc.status_code, exc.code, exc.retry_after_seconds
    for exc_type, answer in _KSERVE_ERRORS.items():
        if isinstance(exc, exc_type):
            return answer
    return 500, "internal_error", None


def install_kserve_error_handlers(app: FastAPI) -> None:
    """Every error a KServe component answers leaves as ``{"error": {code, message, details}, "request_id"}``."""

    def handler_for(status: int, code: str, retry_after: int | None):
        async def handle(request: Request, exc: Exception) -> JSONResponse:
            if status >= 500:
                log.warning("%s: %s", code, exc)
            headers = {"Retry-After": str(retry_after)} if retry_after else None
            return error_response(request, status, code, str(exc) or code, headers=headers)

        return handle

    for exc_type, (status, code, retry_after) in _KSERVE_ERRORS.items():
        app.add_exception_handler(exc_type, handler_for(status, code, retry_after))
    app.add_exception_handler(PlatformError, platform_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(Exception, unhandled_error_handler)
