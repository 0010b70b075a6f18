"""How the two KServe components (feature transformer, model server) are served: KServe by composition.

The platform owns the FastAPI application and the ``uvicorn.Server``, as MLServer's REST server does,
and uses KServe through its public surface only: a ``ModelRepository`` of the component's models, a
``DataPlane`` over it, KServe's v1 and v2 routes added with ``register_v1_endpoints`` /
``register_v2_endpoints``, KServe's ``GRPCServer`` for the gRPC data plane, and the predictor settings
through ``kserve.context``. On top the platform adds its own error handlers (one shape, one status per
code), the request limits, ``GET /v1/models/{name}/metadata`` (the model directory's metadata: KServe's
v2 metadata has no version, and the gateway's model list needs it) and each component's middleware.

- :class:`KServeComponentSettings` holds KServe's flags (the ones the KServe controller passes) with
  ours; :func:`build_parser` declares them, so nothing depends on the argument parsing KServe does
  when it is imported. ``--model_dir`` may repeat: one process can host several models (the local
  stack does; in a cluster each InferenceService gets one). The host is a setting (KServe's own server
  always binds 0.0.0.0; locally and in tests everything binds loopback).
- :func:`serve` runs a component: one process, or ``--workers`` processes sharing the port, each
  building its own application through the component's factory (uvicorn's own multi-process mode).
  On SIGTERM the server stops accepting, answers what it accepted, then runs the component's
  ``on_stopped`` callbacks (the inference log writes what it holds) and unloads the models.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import signal
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import FastAPIDeprecationWarning
from fastapi.responses import JSONResponse
from kserve import context as kserve_context
from kserve import errors as kserve_errors
from kserve.model import BaseKServeModel
from kserve.model_repository import ModelRepository
from kserve.predictor_config import PredictorConfig
from kserve.protocol.dataplane import DataPlane
from kserve.protocol.grpc.server import GRPCServer
from kserve.protocol.model_repository_extension import ModelRepositoryExtension
from kserve.protocol.rest.server import PrintTimings
from kserve.protocol.rest.v1_endpoints import register_v1_endpoints
from kserve.protocol.rest.v2_endpoints import register_v2_endpoints
from pydantic import Field
from timing_asgi import TimingMiddleware
from timing_asgi.integrations import StarletteScopeToName

from serving_common import errors
from serving_common.cpu import share_cores_among
from serving_common.http_errors import Translations, install_error_handlers
from serving_common.http_limits import BodyLimitMiddleware, HttpLimitSettings
from serving_common.metrics_exposition import exposition_of, forget_this_process, workers_metrics_dir
from serving_common.model_dir import ModelMetadata
from serving_common.schemas import ModelInfo
from serving_common.settings import ServiceSettings, add_log_level_flag

log = logging.getLogger(__name__)

# KServe's v1 handlers answer with FastAPI's ORJSONResponse, which FastAPI deprecates: the warning is about
# KServe's code, not about a request or a setting, and opened every component's log at its first call. The
# platform's own routes answer with FastAPI's default response.
warnings.filterwarnings("ignore", message="ORJSONResponse is deprecated", category=FastAPIDeprecationWarning)

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
# gRPC message bounds (KServe's defaults; the REST bounds are HttpLimitSettings).
GRPC_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
GRPC_THREADS = 4


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


def on_off(value: str) -> bool:
    """An argparse ``type`` for switches spelled ``on``/``off`` (the manifests' and Makefile's spelling)."""
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, got {value!r}")
    return value == "on"


def build_parser(description: str) -> argparse.ArgumentParser:
    """KServe's serving flags that the platform honours (so the controller's arguments keep working), and
    ours. Switches take KServe's spellings (true/false); the settings parse them. Every flag defaults to
    None, so an unset flag leaves the environment's value alone; flags KServe knows and the platform does
    not use are left to ``parse_known_args``."""
    parser = argparse.ArgumentParser(description=description)
    kserve = parser.add_argument_group("KServe's flags")
    kserve.add_argument("--http_port", type=int, default=None)
    kserve.add_argument("--grpc_port", type=int, default=None)
    kserve.add_argument("--workers", type=int, default=None, help="REST server processes sharing the port")
    kserve.add_argument("--enable_grpc", default=None, metavar="{true,false}")
    kserve.add_argument("--enable_latency_logging", default=None, metavar="{true,false}")
    kserve.add_argument("--model_name", default=None)
    kserve.add_argument("--predictor_host", default=None)
    kserve.add_argument("--predictor_protocol", "--protocol", dest="predictor_protocol", default=None)
    kserve.add_argument("--predictor_use_ssl", default=None, metavar="{true,false}")
    kserve.add_argument("--predictor_request_timeout_seconds", type=int, default=None)
    kserve.add_argument("--predictor_request_retries", type=int, default=None)
    kserve.add_argument("--enable_predictor_health_check", action="store_true", default=None)
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


Callback = Callable[[], Awaitable[None] | None]


@dataclass
class Component:
    """What one KServe component serves: its loaded models with their metadata, its own ASGI middleware
    (class, keyword arguments; the last one added runs first) and what to run once the server has
    answered everything it accepted."""

    settings: KServeComponentSettings
    models: list[tuple[BaseKServeModel, ModelMetadata]]
    middleware: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    on_stopped: list[Callback] = field(default_factory=list)
    predictor_config: PredictorConfig | None = None


class KServeApp:
    """A component's FastAPI application over KServe's data plane."""

    def __init__(self, component: Component) -> None:
        self.component = component
        settings = component.settings
        if component.predictor_config is not None:
            kserve_context.set_predictor_config(component.predictor_config)
        self.repository = ModelRepository()
        for model, _ in component.models:
            if model.ready:
                self.repository.update(model)
            model.enable_latency_logging = settings.enable_latency_logging
            model.start()
        if not self.repository.get_models():
            raise SystemExit(f"no model is ready: {[m.name for m, _ in component.models]}")
        self.dataplane = DataPlane(model_registry=self.repository)
        self.extension = ModelRepositoryExtension(model_registry=self.repository)
        self.metadata = {model.name: metadata for model, metadata in component.models}
        self.app = self._create_app()

    def _create_app(self) -> FastAPI:
        app = FastAPI(
            title="textserve KServe component",
            docs_url=None,
            redoc_url=None,
            lifespan=self._lifespan,
        )
        app.add_api_route("/", self.dataplane.live, methods=["GET"])
        app.add_api_route("/metrics", metrics, methods=["GET"])
        app.add_api_route("/v1/models/{model_name}/metadata", self.model_metadata, methods=["GET"])
        register_v1_endpoints(app, self.dataplane, self.extension)
        register_v2_endpoints(app, self.dataplane, self.extension)
        install_error_handlers(app, KSERVE_ERRORS)
        if self.component.settings.enable_latency_logging:  # KServe's per-route timing lines
            app.add_middleware(
                TimingMiddleware,
                client=PrintTimings(),
                metric_namer=StarletteScopeToName(prefix="kserve.io", starlette_app=app),
            )
        for middleware, options in self.component.middleware:
            app.add_middleware(middleware, **options)
        # Direct callers inside the cluster meet the same body bounds as the gateway's callers.
        limits = self.component.settings
        app.add_middleware(
            BodyLimitMiddleware, max_body_bytes=limits.max_body_bytes, body_timeout_seconds=limits.body_timeout_seconds
        )
        return app

    async def model_metadata(self, model_name: str) -> JSONResponse:
        metadata = self.metadata.get(model_name)
        if metadata is None:
            raise errors.ModelNotFound(f"model {model_name} is not served here")
        info = ModelInfo(**metadata.model_dump(include=set(ModelInfo.model_fields)))
        return JSONResponse({**info.model_dump(), "name": model_name})

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        yield
        # uvicorn runs this once it has answered every request it accepted.
        for callback in self.component.on_stopped:
            result = callback()
            if inspect.isawaitable(result):
                await result
        for model, _ in self.component.models:
            model.stop()
        forget_this_process()


def _uvicorn_options(settings: KServeComponentSettings) -> dict[str, Any]:
    return {
        "host": settings.http_host,
        "port": settings.http_port,
        "log_config": None,  # the service configured logging (serving_common.logging)
        "access_log": settings.enable_latency_logging,
        "timeout_graceful_shutdown": 30,
        **settings.uvicorn_options(),
    }


def quiet_per_request_logs(settings: KServeComponentSettings) -> None:
    logging.getLogger("kserve").setLevel(settings.log_level)
    if not settings.enable_latency_logging:
        # KServe's per-request lines (Model.__call__) and uvicorn's access log write at INFO on these.
        for name in ("kserve.trace", "uvicorn.access"):
            logging.getLogger(name).setLevel(logging.WARNING)


def serve(settings: KServeComponentSettings, build: Callable[[], Component], factory: str | None = None) -> None:
    """Serve the component ``build`` makes. ``factory`` names a zero-argument function returning its
    application (``module:function``), which each worker process calls when ``--workers`` > 1; a component
    without one serves from one process."""
    quiet_per_request_logs(settings)
    if settings.workers > 1:
        if factory is None:
            raise SystemExit("this component serves from one process: --workers must be 1")
        if settings.enable_grpc:
            raise SystemExit("--workers > 1 serves REST only: pass --enable_grpc false")
        share_cores_among(settings.workers)
        with workers_metrics_dir() as metrics_dir:  # /metrics from any worker sums them all
            log.info("serving with %d worker processes (metrics in %s)", settings.workers, metrics_dir)
            uvicorn.run(factory, factory=True, workers=settings.workers, **_uvicorn_options(settings))
        return
    asyncio.run(_serve_one(KServeApp(build()), settings))


async def metrics(request: Request) -> Response:
    """KServe's metrics and the component's, of this process or summed over its worker processes."""
    content, content_type = exposition_of(request.headers.get("accept", ""))
    return Response(content=content, headers={"content-type": content_type})


def worker_app(build: Callable[[], Component]) -> FastAPI:
    """The application of one worker process (``--workers`` > 1): the component built in that process."""
    component = build()
    quiet_per_request_logs(component.settings)
    return KServeApp(component).app


async def _serve_one(server: KServeApp, settings: KServeComponentSettings) -> None:
    rest = uvicorn.Server(uvicorn.Config(server.app, **_uvicorn_options(settings)))
    # uvicorn takes SIGTERM/SIGINT while it serves and raises them again once it has stopped; routed to
    # it here too, so a signal before it starts stops it at once and the raised one ends nothing early.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, rest.handle_exit)
    grpc = None
    if settings.enable_grpc:
        limits = {
            "grpc_max_send_message_length": GRPC_MAX_MESSAGE_BYTES,
            "grpc_max_receive_message_length": GRPC_MAX_MESSAGE_BYTES,
        }
        grpc = GRPCServer(settings.grpc_port, server.dataplane, server.extension, kwargs=limits, grace_period=30)
    tasks = [asyncio.ensure_future(grpc.start(GRPC_THREADS))] if grpc is not None else []
    try:
        await rest.serve()
    finally:
        if grpc is not None:
            await grpc.stop(signal.SIGTERM)
        await asyncio.gather(*tasks, return_exceptions=True)
