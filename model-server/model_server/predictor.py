"""The KServe predictor: the v2/v1 data-plane face of a :class:`~ml_common.classifier.Classifier`."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from kserve import Model
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from ml_common.runtime import Classifier, PipelinedClassifier
from ml_common.shape_buckets import ShapeBuckets
from model_server import inputs, metrics
from model_server.batching import AdaptiveBatcher
from model_server.settings import ModelServerSettings
from serving_common.errors import InvalidInput
from serving_common.v2_binary import Tensor

if TYPE_CHECKING:
    from ml_common.classifier import LaunchedPass

log = logging.getLogger(__name__)
LOGITS = "logits"
EMBEDDING = "embedding"


class ClassifierPredictor(Model):
    """Ready only once the model is loaded and one warm-up pass has run."""

    def __init__(self, name: str, load_classifier: Callable[[], Classifier], settings: ModelServerSettings):
        super().__init__(name, return_response_headers=True)
        self._load_classifier = load_classifier
        self.settings = settings
        self.classifier: Classifier | None = None
        # The classifier once more, typed for pipelined passes, when they are on: checked against the protocol once,
        # at load, not on every pass (a runtime-checkable protocol's isinstance costs about 50 us).
        self._pipelined: PipelinedClassifier | None = None
        self.batcher: AdaptiveBatcher | None = None
        # One thread runs forward passes (the serving thread: warm-up and CUDA-graph capture run on it too):
        # torch already uses every core inside one pass, and the event loop stays free to accept requests
        # while a pass runs. Pipelined passes are collected on a second thread.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forward")
        self._collector = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collect")
        self._last_collected = 0.0  # when the last pipelined pass was collected

    def load(self) -> bool:
        classifier = self._load_classifier()
        asked_for_static_shapes = self.settings.static_shapes == "on"
        settings = self.settings = self.settings.for_device(gpu=classifier.on_gpu)
        if settings.static_shapes == "on":
            if not isinstance(classifier, PipelinedClassifier):
                raise ValueError("static shapes need the PyTorch runtime")
            buckets = ShapeBuckets.covering(settings.batch_rows, classifier.metadata.max_length, settings.batch_tokens)
            classifier.use_static_shapes(buckets)
        # A compiled model is warmed up at the largest batch too, so no request waits for a compilation.
        warmup_rows = settings.batch_rows if classifier.compiled else settings.warmup_batch_size
        try:
            self._executor.submit(classifier.warm_up, warmup_rows).result()
        except Exception as exc:
            # A model whose forward cannot be captured (e.g. it copies a host value to the GPU mid-pass)
            # is served with dynamic shapes when static ones were only the default.
            if (
                not isinstance(classifier, PipelinedClassifier)
                or not classifier.static_shapes
                or asked_for_static_shapes
            ):
                raise
            log.warning("%s: static shapes could not be captured (%s); serving dynamic shapes", self.name, exc)
            classifier.use_dynamic_shapes()
            self._executor.submit(classifier.warm_up, warmup_rows).result()
        self.classifier = classifier
        if settings.batching:
            deep = settings.pipeline_depth > 1
            self._pipelined = classifier if deep and isinstance(classifier, PipelinedClassifier) else None
            pipelined = self._pipelined is not None
            self.batcher = AdaptiveBatcher(
                self._timed_launch if pipelined else self._timed_forward,
                self._executor,
                collect=self._timed_collect if pipelined else None,
                collect_executor=self._collector,
                pipeline_depth=settings.pipeline_depth if pipelined else 1,
                max_batch_size=settings.batch_rows,
                max_wait_ms=settings.max_batch_wait_ms,
                start_when_idle=settings.batch_when_idle,
                max_batch_tokens=settings.batch_tokens,
                max_queue_rows=settings.max_queue_rows,
                model_name=self.name,
                model_version=classifier.metadata.version,
            )
        self.ready = True
        return self.ready

    @property
    def version(self) -> str:
        return self.classifier.metadata.version if self.classifier else "unknown"

    def get_input_types(self) -> list[dict[str, Any]]:
        return [
            {"name": inputs.INPUT_IDS, "datatype": "INT64", "shape": [-1, -1]},
            {"name": inputs.ATTENTION_MASK, "datatype": "INT64", "shape": [-1, -1]},
        ]

    def get_output_types(self) -> list[dict[str, Any]]:
        outputs = self.classifier.num_outputs if self.classifier else -1
        dim = self.classifier.projection.dim if self.classifier else -1
        return [
            {"name": LOGITS, "datatype": "FP32", "shape": [-1, outputs]},
            {"name": EMBEDDING, "datatype": "FP32", "shape": [-1, dim]},
        ]

    async def infer_arrays(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits, embedding) for checked token tensors: through the batcher, or one pass of their own.
        Both the KServe data plane (:meth:`predict`) and the binary fast path (:mod:`binary_v2`) call it."""
        assert self.classifier is not None, "predict called before load"
        with self.counting_invalid():
            inputs.check(input_ids, attention_mask, self.classifier.vocab_size, self.classifier.metadata.max_length)
        if self.batcher is not None:
            logits, embedding = await self.batcher.submit(input_ids, attention_mask)
        else:  # batching off: one forward pass per request, as a plain KServe custom predictor runs
            logits, embedding = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._timed_forward, input_ids, attention_mask
            )
        metrics.REQUESTS.labels(self.name, self.version, "ok").inc()
        return logits, embedding

    @contextmanager
    def counting_invalid(self) -> Iterator[None]:
        """Counts a request refused as invalid input (model_server_requests_total{status="invalid_input"})."""
        try:
            yield
        except InvalidInput:
            metrics.REQUESTS.labels(self.name, self.version, "invalid_input").inc()
            raise

    @property
    def projection_id(self) -> str:
        assert self.classifier is not None
        return self.classifier.projection.id

    def output_tensors(self, logits: np.ndarray, embedding: np.ndarray) -> list[Tensor]:
        """The v2 outputs of one call: the logits, then the embedding that feeds the inference log (drift),
        with its projection's id. The lean binary path and KServe's path both answer with these."""
        return [
            Tensor(LOGITS, logits.astype(np.float32, copy=False)),
            Tensor(EMBEDDING, embedding.astype(np.float32, copy=False), {"projection": self.projection_id}),
        ]

    def response_headers(self, request_id: str | None) -> dict[str, str]:
        headers = {"x-model-version": self.version}
        if request_id:
            headers["x-request-id"] = request_id
        return headers

    async def predict(
        self,
        payload: InferRequest | dict[str, Any],
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> InferResponse | dict[str, Any]:
        with self.counting_invalid():
            if isinstance(payload, InferRequest):
                input_ids, attention_mask = inputs.token_tensors(inputs.from_kserve(payload))
            else:
                input_ids, attention_mask = inputs.from_v1(payload)
        logits, embedding = await self.infer_arrays(input_ids, attention_mask)
        request_id = (headers or {}).get("x-request-id")
        if response_headers is not None:
            response_headers.update(self.response_headers(request_id))
        if not isinstance(payload, InferRequest):
            return {"predictions": logits.tolist(), "model_name": self.name, "model_version": self.version}
        binary = payload.use_binary_outputs  # binary callers get binary outputs; plain JSON callers get JSON
        outputs = []
        for tensor in self.output_tensors(logits, embedding):
            output = InferOutput(
                name=tensor.name,
                shape=list(tensor.data.shape),
                datatype=tensor.datatype,
                parameters=dict(tensor.parameters) or None,
            )
            output.set_data_from_numpy(tensor.data, binary_data=binary)
            outputs.append(output)
        return InferResponse(
            response_id=payload.id or request_id or uuid.uuid4().hex,
            model_name=self.name,
            model_version=self.version,
            infer_outputs=outputs,
        )

    def _observe_batch(self, input_ids: np.ndarray) -> None:
        metrics.BATCH_SIZE.labels(self.name, self.version).observe(input_ids.shape[0])
        metrics.SEQUENCE_LENGTH.labels(self.name, self.version).observe(input_ids.shape[1])

    def _timed_forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._observe_batch(input_ids)
        assert self.classifier is not None, "forward before load"
        with metrics.FORWARD_SECONDS.labels(self.name, self.version).time():
            return self.classifier.infer(input_ids, attention_mask)

    def _timed_launch(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[float, LaunchedPass]:
        """A pipelined pass's launch; its forward time runs from here to its collection."""
        self._observe_batch(input_ids)
        assert self._pipelined is not None, "pipelined passes need the PyTorch runtime"
        return time.perf_counter(), self._pipelined.launch(input_ids, attention_mask)

    def _timed_collect(self, launched: tuple[float, LaunchedPass]) -> tuple[np.ndarray, np.ndarray]:
        """A pipelined pass's collection. Passes finish in launch order (one stream), so a pass's device
        time starts at its launch or at the previous pass's end, whichever is later: the forward-time sum
        stays the device's busy time (the autoscaler's signal), never more than the wall time."""
        started, handle = launched
        assert self._pipelined is not None
        try:
            return self._pipelined.collect(handle)
        finally:
            ended = time.perf_counter()
            busy_from = max(started, self._last_collected)
            self._last_collected = ended
            metrics.FORWARD_SECONDS.labels(self.name, self.version).observe(ended - busy_from)

    def stop(self) -> None:
        self._executor.shutdown(wait=True)
        self._collector.shutdown(wait=True)
        super().stop()
