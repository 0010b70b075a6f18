"""What the two KServe components (feature transformer, model server) share about being served.

- Their settings: :class:`KServeComponentSettings` holds KServe's own flags (the ones the KServe
  controller passes) with ours; flags land in it through :func:`serving_common.settings.load_settings`.
- KServe's ``RESTServer`` always binds 0.0.0.0; locally and in tests everything binds loopback, so
  the host is a setting here. ``--model_dir`` may repeat: one process can host several models (the
  local stack does; in a cluster each InferenceService gets one).
- :class:`PlatformRESTServer` is KServe's REST server with the platform's error handlers (KServe's one
  method for them, ``_add_exception_handlers``), the request limits and the metadata route, added
  in ``create_application``: KServe runs that in every worker process it spawns (``--workers > 1``),
  so each worker answers the same way.
- ``GET /v1/models/{name}/metadata`` returns the model directory's metadata (name, version, task,
  labels): KServe's v2 metadata has no version, and the gateway's model list needs it.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import kserve
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from kserve import errors as kserve_errors
from kserve.model_server import FASTAPI_APP_IMPORT_STRING
from kserve.model_server import args as kserve_args
from kserve.model_server import parser as kserve_parser
from kserve.predictor_config import PredictorConfig
from kserve.protocol.grpc.server import GRPCServer
from kserve.protocol.rest.multiprocess.server import RESTServerMultiProcess
from kserve.protocol.rest.server import RESTServer
from pydantic import Field
from uvicorn.importer import import_from_string

from serving_common import errors
from serving_common.http_errors import Translations, install_error_handlers
from serving_common.http_limits import BodyLimitMiddleware, HttpLimitSettings
from serving_common.model_dir import ModelMetadata
from serving_common.schemas import ModelInfo
from serving_common.settings import ServiceSettings, add_log_level_flag

log = logging.getLogger(__name__)

# KServe's exceptions, as the platform's: KServe's data plane raises them (unknown model, a malformed
# v2 body, not ready); the components themselves raise serving_common.errors.
KSERVE_ERRORS: Translations = {
    kserve_errors.InvalidInput: errors.InvalidInput,
    kserve_errors.ModelNotFound: errors.ModelNotFound,
    kserve_errors.ModelNotReady: errors.ModelNotReady,
    kserve_errors.ServerNotReady: errors.ServerNotReady,
    kserve_errors.ServerNotLive: errors.ServerNotLive,
    kserve_errors.UnsupportedProtocol: errors.UnsupportedProtocol,
    kserve_errors.InferenceError: errors.InferenceFailed,
    NotImplementedError: errors.NotImplementedByServer,
}


class KServeComponentSettings(ServiceSettings, HttpLimitSettings):
    """KServe's serving flags and the model directories; each component's settings extend it."""

    model_dirs: list[str] = Field(
        default=["/mnt/models"],
        description="Model directories; KServe's storage initializer puts the files of storageUri in /mnt/models.",
    )
    model_name: str | None = Field(
        default=None, description="Name on the inference URL for a single model; default: its metadata.json name."
    )
    http_host: str = Field(default="0.0.0.0", description="Address the REST server binds.")
    http_port: int = Field(default=8080, ge=1, le=65535)
    grpc_port: int = Field(default=8081, ge=1, le=65535)
    enable_grpc: bool = Field(default=True, description="Serve KServe's gRPC data plane too.")
    workers: int = Field(default=1, ge=1, description="REST server processes (KServe spawns them).")
    enable_latency_logging: bool = Field(
        default=False,
        description="KServe's four lines per request (latency, CPU and wall timings, access). Off by default: "
        "at thousands of requests a second they cost more than the hop itself, and metrics carry the same.",
    )


# KServe's flags whose values land in the components' settings (their KServe defaults are replaced by
# None, so an unset flag leaves the environment's value alone). The predictor's are the transformer's.
_KSERVE_FLAGS = (
    "http_port",
    "grpc_port",
    "enable_grpc",
    "workers",
    "enable_latency_logging",
    "model_name",
    "predictor_protocol",
    "predictor_use_ssl",
    "predictor_request_timeout_seconds",
    "predictor_request_retries",
    "enable_predictor_health_check",
)


def on_off(value: str) -> bool:
    """An argparse ``type`` for switches spelled ``on``/``off`` (the manifests' and Makefile's spelling)."""
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, got {value!r}")
    return value == "on"


def build_parser(description: str) -> argparse.ArgumentParser:
    """KServe's own flag set (so the controller's arguments keep working) plus ours."""
    parser = argparse.ArgumentParser(parents=[kserve_parser], description=description)
    parser.set_defaults(**dict.fromkeys(_KSERVE_FLAGS))
    parser.add_argument("--http_host", default=None, help="address the REST server binds")
    parser.add_argument(
        "--model_dir", dest="model_dirs", action="append", default=None, help="model directory; may repeat"
    )
    add_log_level_flag(parser)
    return parser


def served_names(metadatas: Sequence[ModelMetadata], model_name: str | None) -> list[str]:
    """Names on the inference URLs: the metadata's, or ``model_name`` when one model is served."""
    if model_name and len(metadatas) > 1:
        raise SystemExit("--model_name applies to a single --model_dir; each model keeps its metadata name")
    return [model_name] if model_name else [m.name for m in metadatas]


@dataclass
class AppSetup:
    """What the platform adds to KServe's FastAPI app, in every worker process (so it pickles)."""

    limits: HttpLimitSettings
    metadata: dict[str, ModelMetadata] = field(default_factory=dict)
    # (ASGI middleware class, its keyword arguments); the last one added runs first.
    middleware: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)

    def apply(self, app: FastAPI) -> None:
        app.add_api_route("/v1/models/{model_name}/metadata", self.model_metadata, methods=["GET"])
        for middleware, options in self.middleware:
            app.add_middleware(middleware, **options)
        # Direct callers inside the cluster meet the same body bounds as the gateway's callers.
        app.add_middleware(
            BodyLimitMiddleware,
            max_body_bytes=self.limits.max_body_bytes,
            body_timeout_seconds=self.limits.body_timeout_seconds,
        )

    async def model_metadata(self, model_name: str) -> JSONResponse:
        metadata = self.metadata.get(model_name)
        if metadata is None:
            raise errors.ModelNotFound(f"model {model_name} is not served here")
        info = ModelInfo(**metadata.model_dump(include=set(ModelInfo.model_fields)))
        return JSONResponse({**info.model_dump(), "name": model_name})


class PlatformRESTServer(RESTServer):
    """KServe's REST server, answering in the platform's error shape and with its limits."""

    def __init__(self, *args: Any, settings: KServeComponentSettings, setup: AppSetup, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setup = setup
        self.config.host = settings.http_host
        for option, value in settings.uvicorn_options().items():
            setattr(self.config, option, value)

    def _add_exception_handlers(self, app: FastAPI) -> None:
        install_error_handlers(app, KSERVE_ERRORS)

    def create_application(self) -> None:
        super().create_application()
        self.setup.apply(import_from_string(FASTAPI_APP_IMPORT_STRING))


class ModelServer(kserve.ModelServer):
    """KServe's model server, serving through :class:`PlatformRESTServer` in one or several processes."""

    def __init__(
        self,
        settings: KServeComponentSettings,
        *,
        on_stopped: Sequence[Callable[[], Awaitable[None] | None]] = (),
        middleware: Sequence[tuple[Any, dict[str, Any]]] = (),
        predictor_config: PredictorConfig | None = None,
    ) -> None:
        super().__init__(
            http_port=settings.http_port,
            grpc_port=settings.grpc_port,
            workers=settings.workers,
            enable_grpc=settings.enable_grpc,
            enable_latency_logging=settings.enable_latency_logging,
            predictor_config=predictor_config,
        )
        self.settings = settings
        self.middleware = list(middleware)
        logging.getLogger("kserve").setLevel(settings.log_level)
        if not settings.enable_latency_logging:
            # KServe's timing middleware and uvicorn's access log write at INFO on these loggers.
            for name in ("kserve.trace", "uvicorn.access"):
                logging.getLogger(name).setLevel(logging.WARNING)
        self.on_stopped = list(on_stopped)  # run once the servers have stopped and answered everything

    def start_models(self, models: Sequence[tuple[kserve.Model, ModelMetadata]]) -> None:
        self.setup = AppSetup(
            limits=self.settings,
            metadata={model.name: metadata for model, metadata in models},
            middleware=self.middleware,
        )
        self.start([model for model, _ in models])

    def start(self, models: list[kserve.model.BaseKServeModel]) -> None:
        """KServe's ``start``, with the platform's REST server in the one process or in each worker."""
        self._register_and_check_atleast_one_model_is_ready(models)
        served = (FASTAPI_APP_IMPORT_STRING, self.dataplane, self.model_repository_extension, self.http_port)
        rest = PlatformRESTServer(
            *served,
            access_log_format=self.access_log_format,
            workers=self.workers,
            grace_period=self.grace_period,
            event_loop=self.event_loop,
            timeout_keep_alive=self.timeout_keep_alive,
            settings=self.settings,
            setup=self.setup,
        )
        if self.workers > 1:
            multi = RESTServerMultiProcess(*served, workers=self.workers, grace_period=self.grace_period)
            multi._rest_server = rest  # the server each spawned worker runs (it binds the same socket)
            self._rest_multiprocess_server = multi
            self.servers.append(multi.start())
        else:
            self._rest_server = rest
            self.servers.append(rest.start())
        if self.enable_grpc:
            self._grpc_server = GRPCServer(
                self.grpc_port,
                self.dataplane,
                self.model_repository_extension,
                kwargs=vars(kserve_args),  # the gRPC message limits, as KServe reads them
                grace_period=self.grace_period,
            )
            self.servers.append(self._grpc_server.start(self.max_threads))
        self.setup_event_loop()
        self.register_signal_handler()
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        try:
            await super()._serve()
        finally:
            for callback in self.on_stopped:
                result = callback()
                if inspect.isawaitable(result):
                    await result
